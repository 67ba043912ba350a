// Package deptest holds tests of the project's package graph; it has no
// code of its own.
package deptest
