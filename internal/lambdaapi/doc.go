// Package lambdaapi serves Aloft's AWS-compatible control plane on one listener:
// the Lambda REST API (2015-03-31), the CloudWatch Logs JSON API for reading
// function logs, and Aloft's own endpoints under /aloft/. Every request but
// GET /health and code downloads (see CodeLinks) is verified with AWS
// Signature Version 4 before it reaches a handler; only S3 takes
// the presigned (query-string) form. Handlers return errors; one function
// renders them in AWS's shape with one table from error code to HTTP status.
package lambdaapi
