package eventstream

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/iamkit/iamkit/store"
)

// The headers of a delivery.
const (
	HeaderEventID   = "Iamkit-Event-Id"
	HeaderSignature = "Iamkit-Signature"
)

// DefaultTolerance is how far from the receiver's clock Verify accepts a signature's time.
const DefaultTolerance = 5 * time.Minute

// The codes of Verify's errors, which match store.ErrUnauthenticated.
const (
	CodeSignatureMalformed = "signature_malformed" // no t, no v1, or a value that does not parse
	CodeSignatureMismatch  = "signature_mismatch"  // no v1 value matches the body
	CodeSignatureExpired   = "signature_expired"   // t is further from now than the tolerance
)

// maxSignatureHeader bounds the header Verify parses.
const maxSignatureHeader = 4096

// Sign returns the Iamkit-Signature header of body sent at at, signed with secret:
// "t=<Unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
func Sign(secret string, at time.Time, body []byte) string {
	t := strconv.FormatInt(at.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac(secret, t, body))
}

func mac(secret, t string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(t))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks an Iamkit-Signature header against the raw body a receiver read: one of its
// v1 values must be the HMAC of its t and body under secret, and t within tolerance of now
// (DefaultTolerance when tolerance is 0). Its errors match store.ErrUnauthenticated, with
// the codes above.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	t, sigs, err := parseSignature(header)
	if err != nil {
		return err
	}
	want := mac(secret, t, body)
	ok := false
	for _, s := range sigs {
		ok = hmac.Equal(s, want) || ok
	}
	if !ok {
		return store.NewError(store.ErrUnauthenticated, CodeSignatureMismatch, "no signature matches the body")
	}
	secs, _ := strconv.ParseInt(t, 10, 64)
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return store.NewError(store.ErrUnauthenticated, CodeSignatureExpired, "the signature's time is too far from now")
	}
	return nil
}

// parseSignature splits a header into its time (digits, as sent) and its v1 signatures;
// other keys are ignored, so that later schemes can be added beside v1.
func parseSignature(header string) (t string, sigs [][]byte, err error) {
	malformed := store.NewError(store.ErrUnauthenticated, CodeSignatureMalformed, "the signature header is malformed")
	if len(header) > maxSignatureHeader {
		return "", nil, malformed
	}
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", nil, malformed
		}
		switch k {
		case "t":
			if t != "" || !validTime(v) {
				return "", nil, malformed
			}
			t = v
		case "v1":
			s, err := hex.DecodeString(v)
			if err != nil || len(s) != sha256.Size {
				return "", nil, malformed
			}
			sigs = append(sigs, s)
		}
	}
	if t == "" || len(sigs) == 0 {
		return "", nil, malformed
	}
	return t, sigs, nil
}

// validTime accepts 1 to 12 decimal digits (Unix seconds until the year 33658).
func validTime(v string) bool {
	if len(v) == 0 || len(v) > 12 {
		return false
	}
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
