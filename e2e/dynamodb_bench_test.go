package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/benchtest"
)

// benchTable starts a server (see benchServer) with a table "bench"
// keyed by p (S) and n (N), its stream on.
func benchTable(b *testing.B, args ...string) (*alofttest.Server, *dynamodb.Client) {
	srv := benchServer(b, args...)
	c := srv.DynamoDB()
	_, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{TableName: aws.String("bench"), BillingMode: dtypes.BillingModePayPerRequest,
		KeySchema: []dtypes.KeySchemaElement{{AttributeName: aws.String("p"), KeyType: dtypes.KeyTypeHash}, {AttributeName: aws.String("n"), KeyType: dtypes.KeyTypeRange}},
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("p"), AttributeType: dtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("n"), AttributeType: dtypes.ScalarAttributeTypeN}},
		StreamSpecification: &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeNewImage}})
	if err != nil {
		b.Fatal(err)
	}
	return srv, c
}

// benchRow is an item of about 120 bytes.
func benchRow(p string, n int) map[string]dtypes.AttributeValue {
	return map[string]dtypes.AttributeValue{"p": &dtypes.AttributeValueMemberS{Value: p}, "n": &dtypes.AttributeValueMemberN{Value: strconv.Itoa(n)},
		"data": &dtypes.AttributeValueMemberS{Value: strings.Repeat("x", 100)}}
}

// BenchmarkDynamoDBGetItem reads one item (eventually consistent, as
// GetItem reads by default) through the API, one request at a time.
func BenchmarkDynamoDBGetItem(b *testing.B) {
	_, c := benchTable(b)
	ctx := context.Background()
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("bench"), Item: benchRow("p0", 1)}); err != nil {
		b.Fatal(err)
	}
	key := map[string]dtypes.AttributeValue{"p": &dtypes.AttributeValueMemberS{Value: "p0"}, "n": &dtypes.AttributeValueMemberN{Value: "1"}}
	benchtest.Latencies(b, "ms", func(int) error {
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("bench"), Key: key})
		if err == nil && out.Item == nil {
			err = fmt.Errorf("no item")
		}
		return err
	})
}

// BenchmarkDynamoDBPutItem writes distinct items from 16 clients at once
// through the API.
func BenchmarkDynamoDBPutItem(b *testing.B) {
	_, c := benchTable(b)
	ctx := context.Background()
	benchtest.Clients(b, 16, 1, "items/s", func(i int) error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("bench"), Item: benchRow("p"+strconv.Itoa(i%16), i)})
		return err
	})
}

// BenchmarkDynamoDBQuery reads 100 items from a random place of a
// 10,000-item partition through the API, one request at a time.
func BenchmarkDynamoDBQuery(b *testing.B) {
	const size = 10_000
	_, c := benchTable(b)
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for first := next.Add(25) - 24; first <= size; first = next.Add(25) - 24 {
				var reqs []dtypes.WriteRequest
				for n := first; n < first+25; n++ {
					reqs = append(reqs, dtypes.WriteRequest{PutRequest: &dtypes.PutRequest{Item: benchRow("big", int(n))}})
				}
				for len(reqs) > 0 {
					out, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]dtypes.WriteRequest{"bench": reqs}})
					if err != nil {
						b.Error(err)
						return
					}
					reqs = out.UnprocessedItems["bench"]
				}
			}
		})
	}
	wg.Wait()
	benchtest.Latencies(b, "ms", func(int) error {
		from := 1 + rand.IntN(size-99)
		out, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("bench"), KeyConditionExpression: aws.String("p = :p AND n BETWEEN :a AND :b"),
			ExpressionAttributeValues: map[string]dtypes.AttributeValue{":p": &dtypes.AttributeValueMemberS{Value: "big"},
				":a": &dtypes.AttributeValueMemberN{Value: strconv.Itoa(from)}, ":b": &dtypes.AttributeValueMemberN{Value: strconv.Itoa(from + 99)}}})
		if err == nil && len(out.Items) != 100 {
			err = fmt.Errorf("%d items", len(out.Items))
		}
		return err
	})
}

// BenchmarkDynamoDBStreamToFunction measures the time from the start of
// a PutItem to the start of the handler of the stream mapping's
// invocation that carries its change (BatchSize 1, no window).
func BenchmarkDynamoDBStreamToFunction(b *testing.B) {
	srv, c := benchTable(b, "--sandbox", "process") // the function writes to a host directory
	ctx := context.Background()
	lc := srv.Lambda()
	dir := b.TempDir()
	createEventRecorder(b, lc, "bench-stream", dir)
	giveStreamReader(b, srv, "bench-stream")
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("bench-stream"), EventSourceArn: d.Table.LatestStreamArn,
		StartingPosition: ltypes.EventSourcePositionLatest, BatchSize: aws.Int32(1)}); err != nil {
		b.Fatal(err)
	}
	started := handlerStarts(b, dir)
	put := func(i int) {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("bench"), Item: benchRow("s", i)}); err != nil {
			b.Fatal(err)
		}
	}
	put(0) // warms the function
	started(1)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		put(i + 1)
		lat = append(lat, started(i+2).Sub(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	os.RemoveAll(dir)
}
