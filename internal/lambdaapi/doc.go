// Package lambdaapi serves the Lambda REST API (2015-03-31 and its
// sibling versions) and Aloft's own endpoints under /aloft/, behind the
// front door (package edge), which has verified every request's signature
// and read its body before a handler runs. It also serves the code
// download links GetFunction hands out (CodeLinks), which the front door
// passes through unsigned. Handlers return errors; one function renders
// them in Lambda's shape with one table from error code to HTTP status.
package lambdaapi
