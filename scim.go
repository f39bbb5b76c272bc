package iamkit

import (
	"net/http"

	"github.com/iamkit/iamkit/sso/scim"
	"github.com/iamkit/iamkit/store"
)

// SCIM returns a SCIM 2.0 service provider (package sso/scim) for the account of each
// request's credential, which must be an access token of a service user holding
// scim.PermissionName within its scopes: register scim.PermissionSpec in the registry passed
// with WithPermissions. Mount it at its prefix (scim.DefaultPrefix unless scim.WithPrefix
// says otherwise), such as mux.Handle("/scim/v2/", h). The handler logs to the IAM's logger
// and reads the IAM's clock unless opts say otherwise.
func (i *IAM) SCIM(opts ...scim.Option) (*scim.Handler, error) {
	auth := func(r *http.Request) (Principal, error) {
		token, err := BearerToken(r)
		if err != nil {
			return Principal{}, err
		}
		return i.AuthenticateKindFrom(r.Context(), store.AccessToken, token, i.addrOf(r))
	}
	defaults := []scim.Option{scim.WithLogger(i.log), scim.WithClock(i.clock)}
	return scim.New(i.st, i.dir, i.authz, auth, append(defaults, opts...)...)
}
