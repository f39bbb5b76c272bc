// Command embed is a whole service built on iamkit, the one README's "Embed it" section walks
// through: an account and its administrator, an HTTP endpoint that takes a bearer API key
// holding the service's own permission, and a TCP listener that takes a bot user's authtoken,
// refused as soon as the bot user is deactivated.
//
//	go run ./examples/embed                            # state in memory
//	REDIS_ADDR=127.0.0.1:6379 go run ./examples/embed  # state in Redis
package main
