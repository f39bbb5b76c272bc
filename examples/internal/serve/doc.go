// Package serve runs the example servers' HTTP servers: serve until the context ends, then
// shut down gracefully. Each server builds its own http.Server (timeouts, header limits,
// base context); what they share is the lifecycle around it.
package serve
