package oidctest

import (
	"context"
	"html/template"
	"net/http"
)

// loginPage serves the login form and checks what it posts.
type loginPage struct {
	store    *storage
	callback func(ctx context.Context, authRequestID string) string
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - oidctest</title>
</head>
<body>
<h1>Sign in</h1>
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>{{end}}
<form id="login" method="post" action="/login">
<input type="hidden" name="authRequestID" value="{{.ID}}">
<p><label for="username">Username</label> <input id="username" name="username" autocomplete="username" value="{{.Username}}"></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password"></p>
<p><button id="submit" type="submit">Sign in</button></p>
</form>
</body>
</html>
`))

type loginView struct {
	ID, Username, Error string
}

func (l *loginPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		l.render(w, http.StatusOK, loginView{ID: r.URL.Query().Get("authRequestID")})
	case http.MethodPost:
		l.post(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (l *loginPage) post(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "cannot read the form", http.StatusBadRequest)
		return
	}
	id, login := r.PostForm.Get("authRequestID"), r.PostForm.Get("username")
	found, ok := l.store.signIn(id, login, r.PostForm.Get("password"))
	switch {
	case !found:
		http.Error(w, "unknown or finished sign-in request", http.StatusBadRequest)
	case !ok:
		l.render(w, http.StatusUnauthorized, loginView{ID: id, Username: login, Error: "Wrong username or password."})
	default:
		http.Redirect(w, r, l.callback(r.Context(), id), http.StatusSeeOther)
	}
}

func (l *loginPage) render(w http.ResponseWriter, status int, v loginView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginTemplate.Execute(w, v)
}
