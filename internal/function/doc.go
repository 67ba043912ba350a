// Package function holds Aloft's domain types for functions: the configuration a
// function has as the Lambda API shows it, the rules that validate it, ARNs and
// names, and the error vocabulary every layer shares. It does no I/O.
package function
