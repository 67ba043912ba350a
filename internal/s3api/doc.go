// Package s3api serves the S3 REST API (2006-03-01) over an objstore.Store:
// buckets, objects, listings (V1 and V2), copies, batch deletes, ranges and
// conditional requests, multipart uploads, bucket notification
// configurations that name functions, and bucket lifecycle configurations
// (lifecycle.go; the object store's lifecycle job applies them).
//
// Requests are addressed path-style (/bucket/key) or virtual-host style
// (Host: bucket.localhost:9000), and S3 keys such as "a//b" and "a/../x" are
// taken from the escaped path as sent, never cleaned. Routing looks at the
// method, whether a bucket and a key are present, and the query's
// sub-resource keys (?uploads, ?uploadId, ?delete, ?list-type=2,
// ?location, ?notification), which is why the handler has its own
// dispatcher rather than an http.ServeMux.
//
// Every request must carry a valid SigV4 signature (header or presigned
// query), except a browser's CORS preflight (OPTIONS), which is answered
// unsigned from the bucket's CORS configuration (cors.go), and a browser's
// form upload (POST Object, postform.go), whose form carries its own signed
// policy, or none for an upload a bucket policy allows anyone; the answer to
// any request carrying an Origin that configuration allows has its
// Access-Control-* headers, errors included. Bodies are never read whole: they stream through sigv4.Body,
// which decodes aws-chunked framing and checks signatures, SHA-256,
// Content-MD5 and x-amz-checksum-* as the bytes pass, into the store, which
// commits only once the body has ended cleanly. Errors are S3's XML
// documents, except for HEAD requests, which get the status alone.
//
// What the handler takes is decided by two tables (support.go): the request
// headers S3 defines and the sub-resources of the query. What S3 has and
// the handler does not do is refused with NotImplemented or with the error
// S3 gives in the same case, never served as if it had not been asked;
// reads of configuration no bucket has answer as S3 answers for an
// unconfigured bucket. If-None-Match: * and If-Match on PutObject,
// CopyObject and CompleteMultipartUpload, and If-Match on DeleteObject
// (or an ETag in a DeleteObjects entry), are checked by the store as the
// write or deletion commits (objstore.WithWriteCondition).
//
// After a change to an object is durable, and before the client is told of
// it, Deps.OnChange receives a Change; bucket notifications are built on
// it.
package s3api
