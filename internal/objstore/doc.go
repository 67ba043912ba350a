// Package objstore stores buckets and objects for Aloft's S3-compatible
// API. Store is the contract the S3 handler needs; Disk implements it on a
// local file system so that another backend (an external S3, for one) can
// take its place later.
//
// # Layout
//
// Disk keeps everything under one root directory (the server uses
// <data-dir>/objects):
//
//	tmp/                          files being written; emptied by Open
//	buckets/<bucket>/bucket.json  name, region, creation time
//	buckets/<bucket>/notification.json
//	buckets/<bucket>/tags.json    the bucket's tags
//	buckets/<bucket>/cors.json    its CORS configuration (see CORSStore)
//	buckets/<bucket>/lifecycle.json
//	                              its lifecycle rules (see StartLifecycle)
//	buckets/<bucket>/website.json its website configuration (see WebsiteStore)
//	buckets/<bucket>/encryption.json
//	                              its default encryption (see EncryptionStore)
//	buckets/<bucket>/keys/...     one file per object
//	sse-s3.key                    the SSE-S3 master key (see sse.go)
//	uploads/<bucket>/<upload-id>/upload.json, part-00001, ...
//	store-id                      a random name, shared by the nodes that
//	                              share this directory (upload sweeps,
//	                              lifecycle rules)
//
// Bucket names are validated as AWS does (3-63 lower-case letters, digits,
// dots and hyphens), so they are safe directory names. Object keys are
// arbitrary UTF-8 of up to 1,024 bytes and are never used as paths: a key is
// cut into segments and each segment is percent-encoded, keeping only
// [a-z0-9_-], so an encoded name never contains '/', never is "." or "..",
// never differs from another only by letter case, and never exceeds 241
// bytes. A segment ends once its encoding reaches 237 bytes; the last
// segment of a key names a file ending in ".o", every earlier segment a
// directory ending in ".d". Listing walks this tree in key order: the
// entries of a directory are decoded and sorted by their bytes, a file
// before the directory with the same segment, which yields keys in byte
// order because a segment boundary depends only on the bytes before it.
//
// # Durability
//
// Every object file holds its content followed by its metadata, so the two
// can never disagree:
//
//	content | metadata (JSON) | footer
//	footer = metadata length (uint32 BE) | CRC-32C of metadata | "ALOFTOB1"
//
// A write goes to a temporary file in tmp/ (the same file system), which is
// fsynced and then renamed over the object's path; the directory is fsynced
// after the rename. After a crash (kill -9, power loss) an object is either
// its old complete file or its new complete file, never a mix and never
// partial, and the footer check (magic, CRC, and the sizes adding up to the
// file's length) rejects anything else. Temporary files left by a crash are
// removed by Open. Multipart parts are stored in the same format in their
// upload's directory; completing an upload writes the object as a new file
// and renames it into place before the upload's directory is removed.
//
// # Ordering
//
// Every change (put, copy, completed upload, delete) gets a sequencer: a
// 16-digit upper-case hex number taken from a per-store counter that never
// repeats or goes back within a run and starts from the nanosecond clock, so
// it also increases across restarts while the clock does. It is taken while
// the key is locked, so for any one key later changes carry larger
// sequencers, as S3 event notifications require.
package objstore
