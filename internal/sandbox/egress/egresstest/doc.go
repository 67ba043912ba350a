// Package egresstest gives tests a stand-in for a host on the internet,
// for checking what sandboxed instances can reach (see package egress).
package egresstest
