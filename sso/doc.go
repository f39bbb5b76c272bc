// Package sso is the SAML 2.0 service provider for dashboard single sign-on.
package sso
