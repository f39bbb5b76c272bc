package main

import (
	"net/http"
	"strings"

	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

type securityData struct {
	Security   sso.Security
	Sessions   []sessionRow
	CanRequire bool
	Required   bool
	Method     string
}

// securityPage is the member's sign-in security: password, second factor, sessions; and,
// for administrators, whether the account requires a second factor.
func (s *server) securityPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderSecurity(w, r, c, http.StatusOK, nil)
}

func (s *server) renderSecurity(w http.ResponseWriter, r *http.Request, c *call, status int, errs []formError) error {
	ctx := r.Context()
	sec, err := s.dash.SecurityOf(ctx, c.session)
	if err != nil {
		return err
	}
	d := securityData{Security: sec, CanRequire: c.may(rbac.AccountManage), Required: c.account.RequireSecondFactor, Method: string(c.session.Method)}
	if d.Sessions, err = s.sessionRows(ctx, c, c.p.ID); err != nil {
		return err
	}
	s.render(w, r, c, status, "security", &view{Title: "Security", Errors: errs, Data: d})
	return nil
}

func (s *server) changePassword(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	current, next := f.Get("current_password"), f.Get("new_password")
	var errs []formError
	if current == "" {
		errs = append(errs, formError{"current_password", "Enter your current password."})
	}
	if next == "" {
		errs = append(errs, formError{"new_password", "Enter a new password."})
	}
	if len(errs) > 0 {
		return s.renderSecurity(w, r, c, http.StatusBadRequest, errs)
	}
	res, err := s.dash.ChangePassword(r.Context(), c.session, current, next)
	if err != nil {
		status, _ := statusOf(err)
		fields := map[string]string{"new_password": "new_password", "password": "new_password", "": "current_password"}
		if store.CodeOf(err) == sso.CodeNoPassword {
			fields[""] = ""
		}
		return s.renderSecurity(w, r, c, status, formErrors(err, fields))
	}
	s.startSession(w, res)
	s.redirect(w, r, c.base()+"/security", "Password changed. You were signed out everywhere else.")
	return nil
}

type totpSetupData struct {
	Setup totpView
}

// beginTOTP starts setting up an authenticator app.
func (s *server) beginTOTP(w http.ResponseWriter, r *http.Request, c *call) error {
	setup, err := s.dash.BeginTOTP(r.Context(), c.session)
	if err != nil {
		status, _ := statusOf(err)
		return s.renderSecurity(w, r, c, status, formErrors(err, nil))
	}
	s.render(w, r, c, http.StatusOK, "totp-setup", &view{Title: "Set up two-factor authentication",
		Data: totpSetupData{Setup: setupOf(&setup)}})
	return nil
}

func (s *server) confirmTOTP(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	codes, err := s.dash.ConfirmTOTP(r.Context(), c.session, strings.TrimSpace(f.Get("code")))
	if err != nil {
		status, _ := statusOf(err)
		s.render(w, r, c, status, "totp-setup", &view{Title: "Set up two-factor authentication",
			Data: totpSetupData{Setup: totpViewOf(f.Get("uri"), f.Get("secret"))}, Errors: formErrors(err, map[string]string{"": "code"})})
		return nil
	}
	s.render(w, r, c, http.StatusOK, "recovery-codes", &view{Title: "Save your recovery codes",
		Flash: "Two-factor authentication is on.", Data: recoveryData{Codes: reveal(codes), Continue: c.base() + "/security"}})
	return nil
}

func (s *server) disableTOTP(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	if err := s.dash.DisableTOTP(r.Context(), c.session, strings.TrimSpace(r.PostForm.Get("code"))); err != nil {
		status, _ := statusOf(err)
		return s.renderSecurity(w, r, c, status, formErrors(err, map[string]string{"": "disable-code"}))
	}
	s.redirect(w, r, c.base()+"/security", "Two-factor authentication is off.")
	return nil
}

func (s *server) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	codes, err := s.dash.RegenerateRecoveryCodes(r.Context(), c.session, strings.TrimSpace(r.PostForm.Get("code")))
	if err != nil {
		status, _ := statusOf(err)
		return s.renderSecurity(w, r, c, status, formErrors(err, map[string]string{"": "regenerate-code"}))
	}
	s.render(w, r, c, http.StatusOK, "recovery-codes", &view{Title: "Save your recovery codes",
		Flash: "Your earlier recovery codes no longer work.", Data: recoveryData{Codes: reveal(codes), Continue: c.base() + "/security"}})
	return nil
}

func (s *server) setRequireSecondFactor(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	require := r.PostForm.Get("require") == "on"
	if _, err := s.dash.SetRequireSecondFactor(r.Context(), c.p, require); err != nil {
		status, _ := statusOf(err)
		return s.renderSecurity(w, r, c, status, formErrors(err, map[string]string{"": "require"}))
	}
	notice := "A second factor is no longer required."
	if require {
		notice = "Members who sign in with a password now need a second factor; those without one set it up at their next sign-in."
	}
	s.redirect(w, r, c.base()+"/security", notice)
	return nil
}

func (s *server) endSession(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("session")
	if err := s.dash.EndSession(r.Context(), c.p, id); err != nil {
		return err
	}
	if id == c.session.ID {
		clearSessionCookie(w, c.account.ID)
		s.redirect(w, r, c.base()+"/login", "You have signed out.")
		return nil
	}
	s.redirect(w, r, c.base()+"/security", "Session ended.")
	return nil
}

func (s *server) endOtherSessions(w http.ResponseWriter, r *http.Request, c *call) error {
	ss, err := s.dash.Sessions(r.Context(), c.p, c.p.ID, store.Page{Limit: sso.MaxSessionsPerMember})
	if err != nil {
		return err
	}
	n := 0
	for _, x := range ss {
		if x.ID == c.session.ID {
			continue
		}
		if err := s.dash.EndSession(r.Context(), c.p, x.ID); err != nil {
			return err
		}
		n++
	}
	s.redirect(w, r, c.base()+"/security", "Signed out of "+plural(n, "other session", "other sessions")+".")
	return nil
}
