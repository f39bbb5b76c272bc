package credential

import (
	"crypto/rsa"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/iamkit/iamkit/store"
)

// Limits on SSH public keys, checked by ParseSSHPublicKey.
const (
	// MaxSSHPublicKeyLen is the longest input ParseSSHPublicKey reads, in bytes: room for a
	// 16384-bit RSA key and a long comment.
	MaxSSHPublicKeyLen = 16 << 10
	// MinRSAKeyBits is the smallest RSA modulus accepted.
	MinRSAKeyBits = 2048
	// MaxRSAKeyBits is the largest RSA modulus accepted (OpenSSH's own limit).
	MaxRSAKeyBits = 16384
)

// sshKeyError is the error of a rejected public key: code CodeSSHKeyInvalid, Field
// "public_key". It never repeats the input: at most the key type, and only when it is a
// known algorithm name.
func sshKeyError(keyType, reason string) error {
	if keyType != "" {
		return store.Invalid("public_key", CodeSSHKeyInvalid, 0, "%s key: %s", keyType, reason)
	}
	return store.Invalid("public_key", CodeSSHKeyInvalid, 0, "%s", reason)
}

// SSHPublicKey is an accepted SSH public key, in the forms the store and a verifier need.
type SSHPublicKey struct {
	// Key is the parsed key.
	Key ssh.PublicKey
	// AuthorizedKey is the key's normalised authorized_keys form, "<type> <base64>", without
	// comment, options or newline: what store.Credential.PublicKey holds. The same key always
	// gives the same string, whatever comment or spacing it came with.
	AuthorizedKey string
	// Fingerprint is ssh.FingerprintSHA256 of the key, "SHA256:<unpadded base64>": what
	// store.Credential.Fingerprint holds, unique across all accounts.
	Fingerprint string
	// Comment is the comment that followed the key, if any (often user@host). It is not part
	// of AuthorizedKey; a caller may use it, e.g. as a default description.
	Comment string
}

// ParseSSHPublicKey parses an SSH credential's public key, given as one OpenSSH
// authorized_keys line ("ssh-ed25519 AAAA... comment"), the form ngrok's API takes and the
// content of an id_*.pub file. Blank lines and #-comment lines around it are ignored.
//
// Accepted key types: ssh-ed25519, ecdsa-sha2-nistp256/384/521, their FIDO security-key
// variants (sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com), and ssh-rsa of
// MinRSAKeyBits to MaxRSAKeyBits bits. Rejected: an empty input (code CodeSSHKeyMissing), anything
// that does not parse, more than one key, authorized_keys options (from=, command=, ...:
// they would restrict nothing here), DSA keys, RSA keys outside those sizes, other types,
// private keys, RFC 4716 ("---- BEGIN SSH2 PUBLIC KEY ----") blocks, and certificates: a
// credential is the key itself, and a certificate's validity period and principals would be
// silently ignored; register the certified key instead.
//
// Every error matches store.ErrInvalid, names the field "public_key" and has code
// CodeSSHKeyInvalid, or CodeSSHKeyMissing for an empty input.
func ParseSSHPublicKey(authorizedKeysLine string) (SSHPublicKey, error) {
	in := authorizedKeysLine
	if len(in) > MaxSSHPublicKeyLen {
		return SSHPublicKey{}, &store.Error{
			Kind: store.ErrInvalid, Code: CodeSSHKeyInvalid, Field: "public_key", Limit: MaxSSHPublicKeyLen,
			Msg: fmt.Sprintf("longer than %d bytes", MaxSSHPublicKeyLen),
		}
	}
	if strings.Contains(in, "PRIVATE KEY-----") {
		return SSHPublicKey{}, sshKeyError("", "this is a private key: give the public key (the .pub file) and keep the private key secret")
	}
	if strings.Contains(in, "BEGIN SSH2 PUBLIC KEY") {
		return SSHPublicKey{}, sshKeyError("", "RFC 4716 format: give the key in OpenSSH authorized_keys format (ssh-keygen -i -f key.pub converts it)")
	}
	line, err := onlyLine(in)
	if err != nil {
		return SSHPublicKey{}, err
	}
	key, comment, options, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		typ := line
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			typ = line[:i]
		}
		return SSHPublicKey{}, sshKeyError(knownKeyType(typ), "not a valid OpenSSH public key (authorized_keys format: <type> <base64> [comment])")
	}
	typ := key.Type()
	if len(options) > 0 {
		return SSHPublicKey{}, sshKeyError(typ, "authorized_keys options (from=, command=, ...) are not accepted")
	}
	if reason := checkKeyType(key); reason != "" {
		return SSHPublicKey{}, sshKeyError(typ, reason)
	}
	return SSHPublicKey{
		Key:           key,
		AuthorizedKey: strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(key)), "\n"),
		Fingerprint:   ssh.FingerprintSHA256(key),
		Comment:       comment,
	}, nil
}

// onlyLine returns the one line of in that is neither blank nor a #-comment, trimmed.
func onlyLine(in string) (string, error) {
	var found string
	n := 0
	for l := range strings.Lines(in) {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		found = l
		n++
	}
	switch n {
	case 0:
		return "", store.Invalid("public_key", CodeSSHKeyMissing, 0, "missing or empty")
	case 1:
		return found, nil
	}
	return "", sshKeyError("", "more than one line: give exactly one key")
}

// checkKeyType says why key is not acceptable, or returns "".
func checkKeyType(key ssh.PublicKey) string {
	if _, ok := key.(*ssh.Certificate); ok {
		return "certificates are not accepted: give the certified public key itself"
	}
	switch key.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKECDSA256:
		return ""
	case ssh.KeyAlgoRSA:
		ck, ok := key.(ssh.CryptoPublicKey)
		if !ok {
			return "unsupported RSA key"
		}
		pub, ok := ck.CryptoPublicKey().(*rsa.PublicKey)
		if !ok {
			return "unsupported RSA key"
		}
		if bits := pub.N.BitLen(); bits < MinRSAKeyBits || bits > MaxRSAKeyBits {
			return fmt.Sprintf("an RSA key must have %d to %d bits, this one has %d", MinRSAKeyBits, MaxRSAKeyBits, bits)
		}
		return ""
	case ssh.InsecureKeyAlgoDSA:
		return "DSA keys are not accepted: they are insecure (use ssh-ed25519)"
	}
	return "unsupported key type (use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa)"
}

// knownKeyType returns s if it is an SSH key or certificate algorithm name, else "": error
// messages name the key type but repeat nothing else of the input.
func knownKeyType(s string) string {
	switch s {
	case ssh.KeyAlgoRSA, ssh.InsecureKeyAlgoDSA, ssh.KeyAlgoECDSA256, ssh.KeyAlgoSKECDSA256,
		ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519,
		ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512,
		ssh.KeyAlgoMLDSA44, ssh.KeyAlgoMLDSA65, ssh.KeyAlgoMLDSA87,
		ssh.CertAlgoRSAv01, ssh.InsecureCertAlgoDSAv01, ssh.CertAlgoECDSA256v01,
		ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01, ssh.CertAlgoSKECDSA256v01,
		ssh.CertAlgoED25519v01, ssh.CertAlgoSKED25519v01, ssh.CertAlgoRSASHA256v01,
		ssh.CertAlgoRSASHA512v01, ssh.CertAlgoMLDSA44v01Go, ssh.CertAlgoMLDSA65v01Go,
		ssh.CertAlgoMLDSA87v01Go:
		return s
	}
	return ""
}
