// Command quickstart is iamkit in one page: an account, a bot user, an authtoken it owns,
// verified; then the bot is deactivated and the same token is rejected.
package main
