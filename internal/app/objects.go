package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/follow"
	"github.com/aloft-dev/aloft/internal/iam"
	"github.com/aloft-dev/aloft/internal/queues"
	"github.com/aloft-dev/aloft/internal/topics"

	"github.com/aloft-dev/aloft/internal/notify"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/s3api"
	"github.com/aloft-dev/aloft/internal/s3store"
	"github.com/aloft-dev/aloft/internal/sigv2"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// startObjects opens the object store: under <dir>/objects, sweeping
// what an earlier run left half-written, or the external store of
// --objects-endpoint with its bucket configurations in the backbone. It
// builds the S3 API over it. Bucket notifications go to the async queue,
// which must be open already.
func (s *Server) startObjects(ctx context.Context, js jetstream.JetStream, dir string, v *sigv4.Verifier, log *slog.Logger) error {
	var objects objstore.Store
	if s.cfg.ObjectsEndpoint != "" {
		docs, err := openBucketDocs(ctx, js)
		if err != nil {
			return fmt.Errorf("app: object store: %w", err)
		}
		s.bucketDocs = docs
		spool := filepath.Join(dir, "objects-spool")
		if err := os.MkdirAll(spool, 0o700); err != nil {
			return fmt.Errorf("app: object store: %w", err)
		}
		objects, err = s3store.New(s3store.Options{Endpoint: s.cfg.ObjectsEndpoint, Region: s.cfg.ObjectsRegion,
			AccessKeyID: s.cfg.ObjectsAccessKeyID, SecretAccessKey: s.cfg.ObjectsSecretAccessKey, Docs: docs, TempDir: spool})
		if err != nil {
			return fmt.Errorf("app: object store: %w", err)
		}
	} else {
		disk, err := objstore.Open(filepath.Join(dir, "objects"))
		if err != nil {
			return fmt.Errorf("app: object store: %w", err)
		}
		s.disk, objects = disk, disk
		if s.cfg.ClusterListen != "" || s.cfg.NATSURL != "" {
			log.Warn("S3 buckets and objects stay on this node's disk, unseen by the other nodes sharing the backbone; --objects-endpoint keeps them in a store all nodes share")
		}
	}
	s.objects = objects
	notifier, err := notify.New(notify.Deps{Config: objects.Notification, Queue: s.queue, Publish: s.publishToTopic, Send: s.sendToQueue,
		Logger: log.With("component", "notify")})
	if err != nil {
		return fmt.Errorf("app: notifications: %w", err)
	}
	s.s3 = s3api.New(s3api.Deps{
		Store:    objects,
		Verifier: v,
		VerifierV2: &sigv2.Verifier{Lookup: s.lookup, VirtualBucket: func(host string) (string, bool) {
			return s.s3.VirtualBucket(host)
		}},
		OnChange:          notifier.OnChange,
		FunctionExists:    s.functionExists,
		DestinationExists: s.destinationExists,
		OnConfigured:      notifier.TestEvent,
		Authorize:         s.authorizeS3,
		Logger:            log.With("component", "s3"),
		Observe:           s.s3Observer(),
	})
	return nil
}

// functionExists reports whether a Lambda function ARN
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]) names a
// function in the registry.
func (s *Server) functionExists(_ context.Context, arn string) bool {
	name, qualifier, ok := awsproto.LambdaFunction(arn)
	if !ok {
		return false
	}
	rec, ok := s.reg.Get(name)
	if ok && qualifier != "" {
		_, err := rec.Describe(qualifier)
		ok = err == nil
	}
	return ok
}

// destinationExists reports whether an SNS topic or SQS queue ARN names
// a topic or queue here.
func (s *Server) destinationExists(_ context.Context, arn string) bool {
	if name, err := topics.TopicName(arn); err == nil && strings.HasPrefix(arn, "arn:aws:sns:") {
		_, err := s.topics.TopicAttributes(name)
		return err == nil
	}
	if strings.HasPrefix(arn, "arn:aws:sqs:") && !strings.HasSuffix(arn, ".fifo") { // S3 does not notify FIFO queues
		_, err := s.queues.Get(arn[strings.LastIndexByte(arn, ':')+1:])
		return err == nil
	}
	return false
}

// publishToTopic publishes a message to the topic with ARN arn, for the
// platform (bucket notifications).
func (s *Server) publishToTopic(ctx context.Context, arn, subject, message string) error {
	name, err := topics.TopicName(arn)
	if err != nil {
		return err
	}
	_, err = s.topics.Publish(ctx, name, &topics.Message{Message: message, Subject: subject})
	return err
}

// sendToQueue stores body on the queue with ARN arn, for the platform.
func (s *Server) sendToQueue(ctx context.Context, arn, body string) error {
	_, errs, err := s.queues.Send(ctx, arn[strings.LastIndexByte(arn, ':')+1:], []*queues.Message{{Body: body, Delay: -1, Sender: awsproto.AccountID}})
	if err != nil {
		return err
	}
	return errs[0]
}

// ownerKeeps reports whether action is one the account's root may
// perform whatever the bucket policy says: reading, replacing and
// deleting that policy, so that no policy locks the owner out.
func ownerKeeps(action string) bool {
	return action == "s3:GetBucketPolicy" || action == "s3:PutBucketPolicy" || action == "s3:DeleteBucketPolicy"
}

// authorizeS3 decides whether the signer of an S3 request (nil for an
// anonymous one) may perform action on resource: the signer's policies
// and the bucket's, or for an anonymous request the bucket's alone.
func (s *Server) authorizeS3(r *http.Request, id *sigv4.Identity, action, resource string, keys map[string][]string, bucket *policy.Policy) *awsproto.Error {
	rc := &iam.Request{Keys: keys}
	if id == nil {
		edge.RequestContext(r, sigv4.Identity{}, rc)
		if bucket == nil || bucket.DecideFor(&policy.Caller{}, action, resource, rc) != policy.Allow {
			return &awsproto.Error{Status: http.StatusForbidden, Code: "AccessDenied", Message: "Access Denied"}
		}
		return nil
	}
	p, err := s.resolve(*id)
	switch {
	case err != nil:
	case p.Kind != iam.RootPrincipal:
		edge.RequestContext(r, *id, rc)
		err = p.AuthorizeRequest(action, resource, rc, bucket)
	case bucket != nil && !ownerKeeps(action):
		// A bucket policy's Deny binds the account's root too.
		edge.RequestContext(r, *id, rc)
		err = p.DeniedBy(bucket, action, resource, rc)
	}
	if err != nil {
		return edge.Refusal(err, awsproto.RESTXML)
	}
	return nil
}

// bucketDocsKV is the backbone KV bucket of the bucket configurations an
// external object store leaves to Aloft (see s3store.Docs).
const bucketDocsKV = "s3-bucket-docs"

// bucketDocs keeps s3store's documents in a KV bucket, one key per bucket
// and kind: BUCKET.KIND (a bucket name's dots are tokens of the key; the
// kind, which has none, is its last). Every node follows the bucket, so
// that the configurations read on each S3 request are read from memory,
// and still while the backbone elects a leader.
type bucketDocs struct {
	kv jetstream.KeyValue
	f  *follow.Follower

	mu   sync.RWMutex
	docs map[string]revDoc
}

// revDoc is a document and the KV revision that wrote it.
type revDoc struct {
	rev uint64
	doc []byte
}

func openBucketDocs(ctx context.Context, js jetstream.JetStream) (*bucketDocs, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucketDocsKV, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", bucketDocsKV, err)
	}
	d := &bucketDocs{kv: kv, docs: make(map[string]revDoc)}
	if d.f, err = follow.KV(ctx, kv, d.apply, nil); err != nil {
		return nil, err
	}
	return d, nil
}

// apply takes a change of the bucket.
func (d *bucketDocs) apply(e jetstream.KeyValueEntry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cur, ok := d.docs[e.Key()]; ok && cur.rev >= e.Revision() {
		return // this node's own write, taken already
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(d.docs, e.Key())
		return
	}
	d.docs[e.Key()] = revDoc{rev: e.Revision(), doc: e.Value()}
}

// Get returns bucket's document of kind, nil if there is none.
func (d *bucketDocs) Get(_ context.Context, bucket, kind string) ([]byte, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.docs[bucket+"."+kind].doc, nil
}

// Put replaces bucket's document of kind; nil removes it. This node reads
// its own write at once; the others once the change reaches them.
func (d *bucketDocs) Put(ctx context.Context, bucket, kind string, doc []byte) error {
	key := bucket + "." + kind
	if doc == nil {
		if err := d.kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return err
		}
		d.mu.Lock()
		delete(d.docs, key)
		d.mu.Unlock()
		return nil
	}
	rev, err := d.kv.Put(ctx, key, doc)
	if err != nil {
		return err
	}
	d.apply(putEntry{key: key, rev: rev, doc: doc})
	return nil
}

// Stop ends the following.
func (d *bucketDocs) Stop() { d.f.Stop() }

// putEntry is a KV entry this node wrote, applied before its echo.
type putEntry struct {
	jetstream.KeyValueEntry
	key string
	rev uint64
	doc []byte
}

func (e putEntry) Key() string                     { return e.key }
func (e putEntry) Revision() uint64                { return e.rev }
func (e putEntry) Value() []byte                   { return e.doc }
func (e putEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }
