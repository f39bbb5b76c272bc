package credential_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/store"
)

func ExampleParseACL() {
	// Parse once, when the credential is written...
	acl, err := credential.ParseACL([]string{"bind:*.example.com", "bind:1.tcp.ngrok.io:20002", "bind:app=*"})
	if err != nil {
		panic(err)
	}
	// ...and match at bind time, without allocating.
	for _, target := range []string{
		"x.example.com", "*.example.com", "example.com",
		"1.tcp.ngrok.io:20002", "1.tcp.ngrok.io:20003",
		"app=web", "env=prod",
	} {
		fmt.Printf("%-22s %v\n", target, acl.AllowsBind(target))
	}

	_, err = credential.ParseACL([]string{"bind:ok.example.com", "bind:foo..example.com"})
	var se *store.Error
	if errors.As(err, &se) {
		fmt.Println(errors.Is(err, store.ErrInvalid), se.Code == credential.CodeInvalidACL, se.Field)
	}
	// Output:
	// x.example.com          true
	// *.example.com          true
	// example.com            false
	// 1.tcp.ngrok.io:20002   true
	// 1.tcp.ngrok.io:20003   false
	// app=web                true
	// env=prod               false
	// true true acl[1]
}

func ExampleSecret() {
	// Production code passes crypto/rand.Reader; a seeded reader keeps this output fixed.
	random := rand.NewChaCha8([32]byte{42})
	secret, err := credential.NewToken(store.Authtoken, "cr_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ", random)
	if err != nil {
		panic(err)
	}

	// Printing, logging or marshalling a Secret never shows it.
	fmt.Println(secret)
	fmt.Printf("%v %+v %#v %q %x\n", secret, secret, secret, secret, secret)
	js, _ := json.Marshal(struct {
		Token credential.Secret `json:"token"`
	}{secret})
	fmt.Println(string(js))

	// Store only its hash; reveal it once, to its owner.
	var hasher credential.Hasher
	fmt.Println(len(hasher.HashHex(secret.Token())))
	fmt.Println(secret.Reveal())
	// Output:
	// [REDACTED]
	// [REDACTED] [REDACTED] credential.Secret([REDACTED]) "[REDACTED]" [REDACTED]
	// {"token":"[REDACTED]"}
	// 64
	// iat_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ_4sRL18d676oum8AOvEiEdfXPdAs3RoCnf
}

func ExampleParseToken() {
	tok, err := credential.ParseToken("iat_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ_4sRL18d676oum8AOvEiEdfXPdAs3RoCnf")
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.Kind(), tok.CredentialID(), tok.ShardTag())
	fmt.Println(tok) // the secret part is redacted

	_, err = credential.ParseToken("iat_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ_4sRL18d676oum8AOvEiEdfXPdAs3RoCng")
	fmt.Println(errors.Is(err, store.ErrInvalid), store.CodeOf(err) == credential.CodeTokenChecksum)
	// Output:
	// authtoken cr_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ K3ZQ
	// iat_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ_[REDACTED]
	// true true
}
