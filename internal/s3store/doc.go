// Package s3store keeps Aloft's buckets and objects in an external
// S3-compatible store (AWS S3, MinIO, Ceph RGW, or another Aloft), behind
// the objstore.Store interface the S3 API serves. It is what lets every
// node of a cluster serve every object: the nodes share the external
// store as they share the backbone.
//
// # What goes where
//
// Objects, their versions, tags, retention and legal holds, multipart
// uploads, bucket versioning, bucket tags, Object Lock and default
// encryption are the external store's: each call is the S3 request that
// does it there, signed with the store's own credentials, and the store's
// answer (ETags, version ids, errors) is what Aloft answers. Encryption at
// rest is the store's too: SSE-S3 and SSE-C are passed on as S3's headers
// (an SSE-C key goes to the store with each request, as S3 requires, and
// is never kept here).
//
// The bucket configurations Aloft itself acts on (notifications, bucket
// policies, public access blocks, CORS, website configurations and
// lifecycle rules) are kept in Docs, which the server backs with the
// backbone's key-value store so that every node reads the same ones.
// Lifecycle rules are applied by Aloft (objstore.RunLifecycle, on one
// node at a time), not by the external store, so that their expirations
// are notified as on a disk; an expiration is a conditional delete
// (If-Match), so an object written since it was judged stays.
//
// # Consistency
//
// Reads, writes and conditional writes are as consistent as the external
// store's (AWS S3 and MinIO: strong read-after-write). Sequencers of
// event notifications come from a per-process counter seeded from the
// clock, so they order one node's changes to a key; changes to one key
// made through different nodes within the same microsecond may be
// reported out of order.
package s3store
