package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/store"
)

// startSharedObjects starts an S3-compatible store (a lone Aloft server)
// and a cluster of three whose nodes keep their buckets and objects in
// it, as --objects-endpoint makes them.
func startSharedObjects(t *testing.T) (ext *alofttest.Server, c *alofttest.Cluster) {
	t.Helper()
	ext = alofttest.Start(t) // its keys are the nodes' (alofttest gives every server the same)
	return ext, alofttest.StartCluster(t, 3, "--objects-endpoint", ext.URL)
}

func getObject(ctx context.Context, c *s3.Client, bucket, key string) (string, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), err
}

// TestObjectsOnEveryNode: with an external object store, a bucket made
// through one node, its objects and its configurations are the same
// through every node; its notifications fire whichever node took the
// write; and the objects outlive the node that wrote them (kill -9).
func TestObjectsOnEveryNode(t *testing.T) {
	ext, c := startSharedObjects(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n1, n2, n3 := c.Nodes[0].S3(), c.Nodes[1].S3(), c.Nodes[2].S3()
	const bucket = "shared-photos"
	if _, err := n1.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	// Notifications configured through node 1 go to a queue.
	q, err := c.Nodes[0].SQS().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("photo-events")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := c.Nodes[0].SQS().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n1.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			QueueArn: aws.String(attrs.Attributes["QueueArn"]), Events: []s3types.Event{"s3:ObjectCreated:*"}}}}}); err != nil {
		t.Fatal(err)
	}
	cors := &s3types.CORSConfiguration{CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://photos.example"}}}}
	if _, err := n1.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(bucket), CORSConfiguration: cors}); err != nil {
		t.Fatal(err)
	}

	// Written through node 2, read through nodes 1 and 3, and there in the
	// external store itself.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if _, err := n2.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("2026/cat.jpg"), Body: bytes.NewReader(big)}); err != nil {
		t.Fatal(err)
	}
	for i, n := range []*s3.Client{n1, n3, ext.S3()} {
		got, err := getObject(ctx, n, bucket, "2026/cat.jpg")
		if err != nil || got != string(big) {
			t.Fatalf("reader %d: %d bytes, %v", i, len(got), err)
		}
	}
	got, err := n3.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(bucket)})
	if err != nil || len(got.CORSRules) != 1 || got.CORSRules[0].AllowedOrigins[0] != "https://photos.example" {
		t.Fatalf("CORS through node 3: %v, %v", got, err)
	}
	list, err := n3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "2026/cat.jpg" {
		t.Fatalf("list through node 3: %v, %v", list, err)
	}
	// The write through node 2 was notified by the configuration made
	// through node 1.
	sq := c.Nodes[2].SQS()
	waitUntil(t, "the notification of the write through node 2", 30*time.Second, func() bool {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if strings.Contains(aws.ToString(m.Body), `"key":"2026/cat.jpg"`) && strings.Contains(aws.ToString(m.Body), "ObjectCreated:Put") {
				return true
			}
		}
		return false
	})

	// Node 2, which took the write, dies (once every stream has its three
	// replicas: a new cluster's first have one until its size has held),
	// moments after a queue whose stream it leads was made and the
	// bucket's notifications pointed at it: a stream made on a settled
	// cluster has its three replicas from the start, with no raise whose
	// catching up the death of its leader could stall. The object is
	// still served, and the survivors take writes and notify them. (Its
	// leader is the backbone's random pick: when none of the queues made
	// is led by node 2, node 3 leads the one used, and dies instead.)
	alofttest.WaitReplicated(t, c.Nodes[0], 3)
	lateURL, lateArn, leader := queueLedBy(ctx, t, c.Nodes[0], c.Names[1:], "photo-events-late")
	victim, writer := c.Nodes[1], n3
	if leader == c.Names[2] {
		victim, writer = c.Nodes[2], n2
	}
	if _, err := writer.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			QueueArn: aws.String(lateArn), Events: []s3types.Event{"s3:ObjectCreated:*"}}}}}); err != nil {
		t.Fatal(err)
	}
	victim.Kill()
	got1, err := getObject(ctx, n1, bucket, "2026/cat.jpg")
	if err != nil || got1 != string(big) {
		t.Fatalf("read after the kill of %s: %d bytes, %v", leader, len(got1), err)
	}
	// A write reads the bucket's configurations from memory, stores the
	// object in the external store and sends its notification to the
	// queue, whose stream elects a new leader: until it has one the write
	// answers 503 ServiceUnavailable (which clients try again), nothing
	// else.
	killed := time.Now()
	waitUntil(t, "a write through a survivor", 30*time.Second, func() bool {
		_, err := writer.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("2026/dog.jpg"), Body: strings.NewReader("woof")},
			func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
		if err != nil && !strings.Contains(err.Error(), "ServiceUnavailable") {
			t.Fatal(err)
		}
		return err == nil
	})
	t.Logf("first write through a survivor %v after the kill of %s", time.Since(killed).Round(time.Millisecond), leader)
	if got, err := getObject(ctx, n1, bucket, "2026/dog.jpg"); err != nil || got != "woof" {
		t.Fatalf("read through node 1 of a write through node 3: %q, %v", got, err)
	}
	waitUntil(t, "the notification of the write after the kill", 30*time.Second, func() bool {
		out, err := c.Nodes[0].SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(lateURL), WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if strings.Contains(aws.ToString(m.Body), `"key":"2026/dog.jpg"`) {
				return true
			}
		}
		return false
	})
}

// queueLedBy makes queues named prefix-N through s, each of whose streams
// must have three replicas from the start, until one is led by the node
// named leaders[0], and returns its URL, ARN and leader; after twelve
// without, the first led by another of leaders (a new stream's leader is
// a member the backbone picks at random).
func queueLedBy(ctx context.Context, t *testing.T, s *alofttest.Server, leaders []string, prefix string) (url, arn, leader string) {
	t.Helper()
	known := map[string]bool{}
	streams, err := alofttest.Streams(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range streams {
		known[st.Name] = true
	}
	sq := s.SQS()
	for n := 0; n < 12; n++ {
		q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("%s-%d", prefix, n))})
		if err != nil {
			t.Fatal(err)
		}
		var made *store.StreamStatus
		waitUntil(t, "the new queue's stream to have a leader", 10*time.Second, func() bool {
			streams, err := alofttest.Streams(s)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range streams {
				if !known[st.Name] && strings.HasPrefix(st.Name, "SQS_") && st.Leader != "" {
					made = &st
					return true
				}
			}
			return false
		})
		known[made.Name] = true
		if made.Replicas != 3 {
			t.Fatalf("a queue made on a settled cluster: stream %s with %d replicas", made.Name, made.Replicas)
		}
		switch {
		case made.Leader == leaders[0]:
			u, a := queueArn(ctx, t, sq, q.QueueUrl)
			return u, a, made.Leader
		case url == "" && slices.Contains(leaders, made.Leader):
			url, leader = aws.ToString(q.QueueUrl), made.Leader
		}
	}
	if url == "" {
		t.Fatalf("no queue of 12 had its stream led by one of %v", leaders)
	}
	u, arn := queueArn(ctx, t, sq, &url)
	return u, arn, leader
}

// queueArn returns the URL and ARN of the queue at url.
func queueArn(ctx context.Context, t *testing.T, sq *sqs.Client, url *string) (string, string) {
	t.Helper()
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(url), attrs.Attributes["QueueArn"]
}
