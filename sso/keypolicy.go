package sso

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/iamkit/iamkit/store"
)

// minRSABits is the smallest RSA modulus the key policy accepts.
const minRSABits = 2048

// keyPolicyReason is the key policy in words, for error reasons.
const keyPolicyReason = "certificate key outside the key policy (RSA of at least 2048 bits, or ECDSA on P-256, P-384 or P-521)"

// checkKeyPolicy is iamkit's one key policy for IdP signing certificates: an RSA key of at
// least 2048 bits, or an ECDSA key on P-256, P-384 or P-521. ParseIdPMetadata applies it to
// every signing certificate, and checkCertificates to every IdPMetadata however it was
// built, right before its certificates are used. The error says what is wrong; callers wrap
// it in an error with code CodeKeyPolicy.
func checkKeyPolicy(cert *x509.Certificate) error {
	if cert == nil {
		return errors.New("no certificate")
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits {
			return fmt.Errorf("RSA key of %d bits, want at least %d", n, minRSABits)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return fmt.Errorf("ECDSA curve %s, want P-256, P-384 or P-521", k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("%s key, want RSA or ECDSA", cert.PublicKeyAlgorithm)
	}
	return nil
}

// checkCertificates applies to the certificates of an IdPMetadata the rules ParseIdPMetadata
// applies to the ones it reads: at most maxSigningCerts, each within the key policy. An
// IdPMetadata built by hand gets here without ParseIdPMetadata, so NewAuthnRequest,
// ValidateResponse and the signature check itself call it. The error matches
// store.ErrInvalid: code CodeConfigInvalid for too many certificates, CodeKeyPolicy for a key
// outside the policy.
func checkCertificates(certs []*x509.Certificate) error {
	if len(certs) > maxSigningCerts {
		return configErr("idp_metadata.certificates", fmt.Sprintf("more than %d signing certificates", maxSigningCerts), nil)
	}
	for i, c := range certs {
		if err := checkKeyPolicy(c); err != nil {
			return &store.Error{
				Kind: store.ErrInvalid, Code: CodeKeyPolicy, Field: fmt.Sprintf("idp_metadata.certificates[%d]", i),
				Msg: keyPolicyReason, Err: err,
			}
		}
	}
	return nil
}
