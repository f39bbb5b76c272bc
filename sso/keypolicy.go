package sso

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
)

// minRSABits is the smallest RSA modulus the key policy accepts.
const minRSABits = 2048

// keyPolicyReason is the key policy in words, for error reasons.
const keyPolicyReason = "certificate key outside the key policy (RSA of at least 2048 bits, or ECDSA on P-256, P-384 or P-521)"

// checkKeyPolicy is iamkit's one key policy for IdP signing certificates: an RSA key of at
// least 2048 bits, or an ECDSA key on P-256, P-384 or P-521. ParseIdPMetadata applies it to
// every signing certificate, and checkCertificates to every IdPMetadata however it was
// built, right before its certificates are used. The error matches ErrKeyPolicy.
func checkKeyPolicy(cert *x509.Certificate) error {
	if cert == nil {
		return fmt.Errorf("%w: no certificate", ErrKeyPolicy)
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits {
			return fmt.Errorf("%w: RSA key of %d bits, want at least %d", ErrKeyPolicy, n, minRSABits)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return fmt.Errorf("%w: ECDSA curve %s, want P-256, P-384 or P-521", ErrKeyPolicy, k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("%w: %s key, want RSA or ECDSA", ErrKeyPolicy, cert.PublicKeyAlgorithm)
	}
	return nil
}

// checkCertificates applies to the certificates of an IdPMetadata the rules ParseIdPMetadata
// applies to the ones it reads: at most maxSigningCerts, each within the key policy. An
// IdPMetadata built by hand gets here without ParseIdPMetadata, so NewAuthnRequest,
// ValidateResponse and the signature check itself call it. The error is a *ConfigError;
// for a key outside the policy it also matches ErrKeyPolicy.
func checkCertificates(certs []*x509.Certificate) error {
	if len(certs) > maxSigningCerts {
		return &ConfigError{Field: "IdPMetadata.Certificates", Reason: fmt.Sprintf("more than %d signing certificates", maxSigningCerts)}
	}
	for i, c := range certs {
		if err := checkKeyPolicy(c); err != nil {
			return &ConfigError{Field: fmt.Sprintf("IdPMetadata.Certificates[%d]", i), Reason: keyPolicyReason, Err: err}
		}
	}
	return nil
}
