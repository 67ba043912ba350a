// Package e2e holds Aloft's end-to-end tests: each starts a real
// `aloft server` process on loopback and talks to it with real clients
// (aws-sdk-go-v2 and the aloft CLI), deploying real functions written with
// aws-lambda-go, Python and Node.js.
package e2e
