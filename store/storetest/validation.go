package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
)

// world is what validation cases build their records in: an account with a bot user that
// can own credentials.
type world struct {
	acct string
	bot  string
}

func testValidation(t *testing.T, ns NewStore) {
	long := func(n int) string { return strings.Repeat("x", n) }

	type invalidCase struct {
		name  string
		field string // the InvalidError.Field expected
		put   func(ctx context.Context, tx store.Tx, e *env, w world) error
	}
	cred := func(kind store.CredentialKind, f func(*store.Credential)) func(context.Context, store.Tx, *env, world) error {
		return func(ctx context.Context, tx store.Tx, e *env, w world) error {
			c := e.newCred(w.acct, w.bot, kind)
			f(&c)
			return tx.PutCredential(ctx, c)
		}
	}
	secrets := func(f func(*store.UserSecrets)) func(context.Context, store.Tx, *env, world) error {
		return func(ctx context.Context, tx store.Tx, e *env, w world) error {
			u := e.newUserSecrets("usr_whoever")
			f(&u)
			return tx.PutUserSecrets(ctx, u)
		}
	}
	session := func(f func(*store.Session)) func(context.Context, store.Tx, *env, world) error {
		return func(ctx context.Context, tx store.Tx, e *env, w world) error {
			x := e.newSession(w.acct, "usr_whoever", "")
			f(&x)
			return tx.PutSession(ctx, x)
		}
	}
	invalid := []invalidCase{
		{"account_missing_id", "account.id", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			a := e.newAccount()
			a.ID = ""
			return tx.PutAccount(ctx, a)
		}},
		{"account_name_too_long", "account.name", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			a := e.newAccount()
			a.Name = long(store.MaxNameLen + 1)
			return tx.PutAccount(ctx, a)
		}},
		{"account_negative_seats", "account.seats", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			a := e.newAccount()
			a.Seats = -1
			return tx.PutAccount(ctx, a)
		}},
		{"user_missing_email", "user.email", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			u := e.newUser()
			u.Email = ""
			return tx.PutUser(ctx, u)
		}},
		{"user_name_too_long", "user.name", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			u := e.newUser()
			u.Name = long(store.MaxNameLen + 1)
			return tx.PutUser(ctx, u)
		}},
		{"membership_bad_status", "membership.status", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			return tx.PutMembership(ctx, e.newMembership(w.acct, "usr_whoever", "pending"))
		}},
		{"membership_missing_user", "membership.user_id", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			return tx.PutMembership(ctx, e.newMembership(w.acct, "", store.MemberActive))
		}},
		{"invitation_missing_email", "invitation.email", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			i := e.newInvitation(w.acct)
			i.Email = ""
			return tx.PutInvitation(ctx, i)
		}},
		{"bot_user_missing_name", "bot_user.name", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			b := e.newBot(w.acct)
			b.Name = ""
			return tx.PutBotUser(ctx, b)
		}},
		{"bot_user_name_256_bytes", "bot_user.name", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			b := e.newBot(w.acct)
			b.Name = long(store.MaxNameLen + 1)
			return tx.PutBotUser(ctx, b)
		}},
		{"credential_description_256_bytes", "credential.description", cred(store.Authtoken, func(c *store.Credential) {
			c.Description = long(store.MaxDescriptionLen + 1)
		})},
		{"credential_metadata_4097_bytes", "credential.metadata", cred(store.APIKey, func(c *store.Credential) {
			c.Metadata = long(store.MaxMetadataLen + 1)
		})},
		{"credential_unknown_kind", "credential.kind", cred(store.Authtoken, func(c *store.Credential) {
			c.Kind = "password"
		})},
		{"credential_missing_owner", "credential.owner_id", cred(store.Authtoken, func(c *store.Credential) {
			c.OwnerID = ""
		})},
		{"credential_missing_account", "credential.account_id", cred(store.Authtoken, func(c *store.Credential) {
			c.AccountID = ""
		})},
		{"token_missing_secret_hash", "credential.secret_hash", cred(store.APIKey, func(c *store.Credential) {
			c.SecretHash = ""
		})},
		{"ssh_missing_public_key", "credential.public_key", cred(store.SSHCredential, func(c *store.Credential) {
			c.PublicKey = ""
		})},
		{"ssh_missing_fingerprint", "credential.fingerprint", cred(store.SSHCredential, func(c *store.Credential) {
			c.Fingerprint = ""
		})},
		{"scopes_on_an_authtoken", "credential.scopes", cred(store.Authtoken, func(c *store.Credential) {
			c.Scopes = []string{"credentials:read"}
		})},
		{"access_token_without_scopes", "credential.scopes", cred(store.AccessToken, func(c *store.Credential) {
			c.Scopes = nil
		})},
		{"access_token_129_scopes", "credential.scopes", cred(store.AccessToken, func(c *store.Credential) {
			c.Scopes = make([]string, store.MaxScopes+1)
			for i := range c.Scopes {
				c.Scopes[i] = "credentials:read"
			}
		})},
		{"access_token_empty_scope", "credential.scopes[1]", cred(store.AccessToken, func(c *store.Credential) {
			c.Scopes = []string{"credentials:read", ""}
		})},
		{"access_token_scope_65_bytes", "credential.scopes[0]", cred(store.AccessToken, func(c *store.Credential) {
			c.Scopes = []string{long(store.MaxScopeLen + 1)}
		})},
		{"allowed_ips_33_prefixes", "credential.allowed_ips", cred(store.APIKey, func(c *store.Credential) {
			c.AllowedIPs = make([]string, store.MaxAllowedIPs+1)
			for i := range c.AllowedIPs {
				c.AllowedIPs[i] = "10.0.0.0/8"
			}
		})},
		{"allowed_ip_host_bits_set", "credential.allowed_ips[1]", cred(store.Authtoken, func(c *store.Credential) {
			c.AllowedIPs = []string{"10.0.0.0/8", "10.1.2.3/8"}
		})},
		{"allowed_ip_without_length", "credential.allowed_ips[0]", cred(store.Authtoken, func(c *store.Credential) {
			c.AllowedIPs = []string{"10.1.2.3"}
		})},
		{"allowed_ip_mapped_ipv4", "credential.allowed_ips[0]", cred(store.SSHCredential, func(c *store.Credential) {
			c.AllowedIPs = []string{"::ffff:10.0.0.0/104"}
		})},
		{"allowed_ip_not_canonical_ipv6", "credential.allowed_ips[0]", cred(store.AccessToken, func(c *store.Credential) {
			c.AllowedIPs = []string{"2001:DB8:0::/32"}
		})},
		{"allowed_ip_garbage", "credential.allowed_ips[0]", cred(store.AccessToken, func(c *store.Credential) {
			c.AllowedIPs = []string{"anywhere"}
		})},
		{"rotated_from_itself", "credential.rotated_from", cred(store.Authtoken, func(c *store.Credential) {
			c.RotatedFrom = c.ID
		})},
		{"rotated_to_itself", "credential.rotated_to", cred(store.APIKey, func(c *store.Credential) {
			c.RotatedTo = c.ID
		})},
		{"account_negative_max_lifetime", "account.credential_policy.api_key_max_lifetime", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			a := e.newAccount()
			a.CredentialPolicy.APIKeyMaxLifetime = -time.Second
			return tx.PutAccount(ctx, a)
		}},
		{"account_negative_rotation_overlap", "account.credential_policy.max_rotation_overlap", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			a := e.newAccount()
			a.CredentialPolicy.MaxRotationOverlap = -time.Nanosecond
			return tx.PutAccount(ctx, a)
		}},
		{"role_missing_name", "role.name", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			r := e.newRole(w.acct)
			r.Name = ""
			return tx.PutRole(ctx, r)
		}},
		{"role_description_256_bytes", "role.description", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			r := e.newRole(w.acct)
			r.Description = long(store.MaxDescriptionLen + 1)
			return tx.PutRole(ctx, r)
		}},
		{"identity_provider_missing_entity_id", "identity_provider.entity_id", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			p := e.newIdP(w.acct)
			p.EntityID = ""
			return tx.PutIdentityProvider(ctx, p)
		}},
		{"identity_provider_description_256_bytes", "identity_provider.description", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			p := e.newIdP(w.acct)
			p.Description = long(store.MaxDescriptionLen + 1)
			return tx.PutIdentityProvider(ctx, p)
		}},
		{"user_secrets_missing_user", "user_secrets.user_id", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			return tx.PutUserSecrets(ctx, e.newUserSecrets(""))
		}},
		{"user_secrets_hash_not_phc", "user_secrets.password_hash", secrets(func(u *store.UserSecrets) { u.PasswordHash = "plaintext" })},
		{"user_secrets_hash_513_bytes", "user_secrets.password_hash", secrets(func(u *store.UserSecrets) {
			u.PasswordHash = "$" + long(store.MaxSecretLen)
		})},
		{"user_secrets_confirmed_without_secret", "user_secrets.totp_secret", secrets(func(u *store.UserSecrets) { u.TOTPSecret = "" })},
		{"user_secrets_21_recovery_codes", "user_secrets.recovery_codes", secrets(func(u *store.UserSecrets) {
			u.RecoveryCodes = make([]string, store.MaxRecoveryCodes+1)
			for i := range u.RecoveryCodes {
				u.RecoveryCodes[i] = hashOf(long(i))
			}
		})},
		{"user_secrets_recovery_code_not_a_digest", "user_secrets.recovery_codes", secrets(func(u *store.UserSecrets) {
			u.RecoveryCodes = []string{"0123-4567"}
		})},
		{"session_missing_user", "session.user_id", session(func(x *store.Session) { x.UserID = "" })},
		{"session_missing_method", "session.method", session(func(x *store.Session) { x.Method = "" })},
		{"session_method_not_a_tag", "session.method", session(func(x *store.Session) { x.Method = "Pass word" })},
		{"session_second_factor_33_bytes", "session.second_factor", session(func(x *store.Session) { x.SecondFactor = long(store.MaxTagLen + 1) })},
		{"session_secret_hash_not_a_digest", "session.secret_hash", session(func(x *store.Session) { x.SecretHash = "ABC" })},
		{"session_user_agent_257_bytes", "session.user_agent", session(func(x *store.Session) { x.UserAgent = long(store.MaxUserAgentLen + 1) })},
		{"session_ip_not_canonical", "session.ip", session(func(x *store.Session) { x.IP = "2001:DB8::1" })},
		{"session_ip_with_zone", "session.ip", session(func(x *store.Session) { x.IP = "fe80::1%eth0" })},
		{"session_ip_4in6", "session.ip", session(func(x *store.Session) { x.IP = "::ffff:192.0.2.1" })},
		{"session_missing_expiry", "session.expires_at", session(func(x *store.Session) { x.ExpiresAt = time.Time{} })},
		{"session_expires_at_creation", "session.expires_at", session(func(x *store.Session) { x.ExpiresAt = x.CreatedAt })},
		{"event_missing_type", "event.type", func(ctx context.Context, tx store.Tx, e *env, w world) error {
			ev := e.newEvent(w.acct)
			ev.Type = ""
			return tx.AppendEvent(ctx, ev)
		}},
	}

	setup := func(e *env) world {
		acct := e.putAccount()
		return world{acct: acct, bot: e.owner(acct)}
	}

	t.Run("rejected", func(t *testing.T) {
		t.Parallel()
		for _, c := range invalid {
			leaf(t, c.name, ns, func(e *env) {
				w := setup(e)
				head := e.head()
				var putErr error
				err := e.tryUpdate(func(tx store.Tx) error {
					putErr = c.put(e.ctx, tx, e, w)
					return putErr
				})
				wantInvalid(e.t, "Put", putErr, c.field)
				wantInvalid(e.t, "Update", err, c.field)
				e.expectNoCommitSince(head, w.acct, "a rejected write")
			})
		}
	})

	t.Run("accepted", func(t *testing.T) {
		t.Parallel()
		leaf(t, "credential_description_255_metadata_4096", ns, func(e *env) {
			w := setup(e)
			c := e.newCred(w.acct, w.bot, store.Authtoken)
			c.Description = long(store.MaxDescriptionLen)
			c.Metadata = long(store.MaxMetadataLen)
			e.update(func(tx store.Tx) error { return tx.PutCredential(e.ctx, c) })
			got := mustRead(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, c.ID) })
			diff(e.t, "credential at the limits", c, got)
		})
		leaf(t, "session_at_limits", ns, func(e *env) {
			w := setup(e)
			x := e.newSession(w.acct, e.putMemberUser(w.acct, store.MemberActive).ID, "")
			x.UserAgent = long(store.MaxUserAgentLen)
			x.Method = long(store.MaxTagLen)
			x.SecondFactor = long(store.MaxTagLen)
			x.IP = "2001:db8:0:1::42"
			e.update(func(tx store.Tx) error { return tx.PutSession(e.ctx, x) })
			got := mustRead(e, func(r store.Reader) (store.Session, error) { return r.Session(e.ctx, x.ID) })
			diff(e.t, "session at the limits", x, got)
		})
		leaf(t, "names_and_descriptions_at_limits", ns, func(e *env) {
			w := setup(e)
			b := e.newBot(w.acct)
			b.Name = long(store.MaxNameLen)
			r := e.newRole(w.acct)
			r.Name = long(store.MaxNameLen)
			r.Description = long(store.MaxDescriptionLen)
			p := e.newIdP(w.acct)
			p.Description = long(store.MaxDescriptionLen)
			e.update(func(tx store.Tx) error {
				if err := tx.PutBotUser(e.ctx, b); err != nil {
					return err
				}
				if err := tx.PutRole(e.ctx, r); err != nil {
					return err
				}
				return tx.PutIdentityProvider(e.ctx, p)
			})
			gotB := mustRead(e, func(rd store.Reader) (store.BotUser, error) { return rd.BotUser(e.ctx, b.ID) })
			diff(e.t, "bot user with a 255-byte name", b, gotB)
			gotR := mustRead(e, func(rd store.Reader) (store.Role, error) { return rd.Role(e.ctx, r.ID) })
			diff(e.t, "role at the limits", r, gotR)
		})
	})
}
