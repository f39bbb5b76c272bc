package rbac

import (
	"context"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Reading the audit log never reveals more than the reader may read directly: each event is
// visible only to a principal holding the permission that reads the resource it is about,
// and the subject of its principal (a user's email, a bot user's name) only to one who may
// read members, respectively bot users.

const (
	// eventScanPages bounds the store pages one Events call reads.
	eventScanPages = 10
	// eventScanPageMin is the least a store page asks for, however small the caller's limit.
	eventScanPageMin = 100
)

// EventPermission returns the permission that reads the resource events of eventType are
// about: members:read for member_*, invitation_* and the dashboard sign-in events (sign_in_*,
// session_*, password_*, totp_*, group_*), roles:read for role_*, sso:read for
// identity_provider_* and sso_settings_*, bot_users:read for bot_user_*, credentials:read
// for tunnel_credential_*, api_key_*, ssh_public_key_* and access_token_*, account:read for
// account_*, ip_policy_*, ip_policy_rule_* and ip_restriction_*, account:manage
// (administrators) for event_destination_* and event_subscription_* (an event destination's
// URL is as sensitive as its configuration). ok
// is false for a type iamkit does not write: only administrators see such events.
func EventPermission(eventType store.EventType) (p Permission, ok bool) {
	switch identity.ResourceOf(eventType) {
	case identity.ResourceAccount:
		return AccountRead, true
	case identity.ResourceMember, identity.ResourceInvitation, identity.ResourceSignIn, identity.ResourceSession,
		identity.ResourcePassword, identity.ResourceTOTP, identity.ResourceGroup:
		return MembersRead, true
	case identity.ResourceRole:
		return RolesRead, true
	case identity.ResourceBotUser:
		return BotUsersRead, true
	case identity.ResourceTunnelCredential, identity.ResourceAPIKey, identity.ResourceSSHPublicKey, identity.ResourceAccessToken:
		return CredentialsRead, true
	case identity.ResourceIdentityProvider, identity.ResourceSSOSettings, identity.ResourceDomain:
		return SSORead, true
	case identity.ResourceEventDestination, identity.ResourceEventSubscription:
		return AccountManage, true
	case identity.ResourceIPPolicy, identity.ResourceIPPolicyRule, identity.ResourceIPRestriction:
		return AccountRead, true
	}
	return 0, false
}

// EventPage is one page of an account's audit log as one principal may read it.
type EventPage struct {
	// Events are the events the principal may read, newest first: at most the page's limit.
	Events []store.Event
	// Next is the Page.BeforeID that continues the log after this page, or "" at its end.
	// A page may hold fewer events than the limit, even none, and still have a Next: one call
	// reads a bounded stretch of the log, which may hold little the principal may read.
	Next string
}

// Events returns one page of the audit log of by's account, newest first, as by may read it:
// by needs EventsRead (an error matching store.ErrDenied otherwise), and sees only the events whose
// EventPermission it holds, with the principal's subject blanked (the principal's ID kept)
// unless it holds MembersRead (for a user, whose subject is an email) or BotUsersRead (for a
// bot user, whose subject is its name). Events reads at most 10 store pages per call, so
// follow EventPage.Next, not the page's length, to read on. p.BeforeID is an event ID.
func (a *Authorizer) Events(ctx context.Context, by identity.Principal, p store.Page) (EventPage, error) {
	if err := by.Validate(); err != nil {
		return EventPage{}, err
	}
	if err := id.CheckPage(p, id.Event); err != nil {
		return EventPage{}, err
	}
	var page EventPage
	err := a.st.View(ctx, func(r store.Reader) error {
		v, err := a.eventReader(ctx, r, by)
		if err != nil {
			return err
		}
		page, err = scanEvents(ctx, r, by.AccountID, p, v.view)
		return err
	})
	if err != nil {
		return EventPage{}, err
	}
	return page, nil
}

// eventReader is a principal's grants, allowed to read the log.
type eventReader struct{ g *grants }

func (a *Authorizer) eventReader(ctx context.Context, r store.Reader, by identity.Principal) (eventReader, error) {
	g, err := a.compileFor(ctx, r, by)
	if err != nil {
		return eventReader{}, err
	}
	if err := a.decideFor(g, &by, EventsRead).Err(); err != nil {
		return eventReader{}, err
	}
	return eventReader{g.within(&by)}, nil
}

// may reports whether the reader holds perm; ok false means administrators only.
func (v eventReader) may(perm Permission, ok bool) bool {
	if !ok {
		return v.g.admin
	}
	return v.g.allows(perm)
}

// view returns ev as the reader may see it, or false if it may not see it at all.
func (v eventReader) view(ev store.Event) (store.Event, bool) {
	if !v.may(EventPermission(ev.Type)) {
		return store.Event{}, false
	}
	if !v.may(subjectPermission(ev.Principal.ID)) {
		ev.Principal.Subject = ""
	}
	return ev, true
}

// subjectPermission is what reads the subject of a principal: a user's email is a member's,
// a bot user's name a bot user's. ok is false for any other ID.
func subjectPermission(principalID string) (Permission, bool) {
	switch pre, _ := id.PrefixOf(principalID); pre {
	case id.User:
		return MembersRead, true
	case id.BotUser:
		return BotUsersRead, true
	}
	return 0, false
}

// scanEvents reads the log from p.BeforeID, store page by store page (at most
// eventScanPages), keeping what view lets through, until it has p.Limit events and knows
// whether another follows, or reaches the end of the log.
func scanEvents(ctx context.Context, r store.Reader, accountID string, p store.Page, view func(store.Event) (store.Event, bool)) (EventPage, error) {
	scan := store.Page{BeforeID: p.BeforeID, Limit: min(store.MaxPageLimit, max(p.Limit+1, eventScanPageMin))}
	var out []store.Event
	for range eventScanPages {
		evs, err := r.Events(ctx, accountID, scan)
		if err != nil {
			return EventPage{}, err
		}
		for _, ev := range evs {
			ev, ok := view(ev)
			if !ok {
				continue
			}
			if len(out) == p.Limit { // a visible event follows the full page
				return EventPage{Events: out, Next: out[len(out)-1].ID}, nil
			}
			out = append(out, ev)
		}
		if len(evs) < scan.Limit {
			return EventPage{Events: out}, nil // the end of the log
		}
		scan.BeforeID = evs[len(evs)-1].ID
	}
	return EventPage{Events: out, Next: scan.BeforeID}, nil
}
