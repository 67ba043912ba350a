package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestTableSurvivesKill runs conditional updates and transactions from 16
// clients, kills the server (SIGKILL) midway, restarts it and checks:
// every acknowledged write is there, no transaction is half applied (the
// accounts' balances are exactly what the receipts say), and the stream
// holds every change of every item exactly once, in order, each record's
// old image the previous one's new image. ALOFT_TABLE_CRASH_OPS sets the
// number of operations (default 4,000).
func TestTableSurvivesKill(t *testing.T) {
	total := 4000
	if v, err := strconv.Atoi(os.Getenv("ALOFT_TABLE_CRASH_OPS")); err == nil && v > 0 {
		total = v
	}
	const workers, accounts, opening = 16, 10, 1000
	srv := alofttest.Start(t)
	ctx := context.Background()
	s, n := aws.String, func(i int) types.AttributeValue { return &types.AttributeValueMemberN{Value: strconv.Itoa(i)} }
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	made, err := srv.DynamoDB().CreateTable(ctx, &dynamodb.CreateTableInput{TableName: s("bank"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: s("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: s("id"), AttributeType: types.ScalarAttributeTypeS}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}})
	if err != nil {
		t.Fatal(err)
	}
	for a := range accounts {
		if _, err := srv.DynamoDB().PutItem(ctx, &dynamodb.PutItemInput{TableName: s("bank"),
			Item: map[string]types.AttributeValue{"id": str(fmt.Sprintf("acct%d", a)), "balance": n(opening)}}); err != nil {
			t.Fatal(err)
		}
	}

	// Each worker counts its own item up with conditional updates (v
	// must be what it last wrote) and, every other step, moves 1 between
	// two accounts in a transaction that also writes a receipt.
	var mu sync.Mutex
	counted := make([]int, workers)  // the last count acknowledged
	inFlight := make([]int, workers) // a count sent when the server was killed: stored or not
	receipts := map[string]bool{}    // acknowledged transfers
	ops := 0
	run := func(c *dynamodb.Client, stopAt int) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
				for step := 0; ; step++ {
					mu.Lock()
					if ops >= stopAt {
						mu.Unlock()
						return
					}
					ops++
					v := counted[w]
					mu.Unlock()
					if step%2 == 0 {
						in := &dynamodb.UpdateItemInput{TableName: s("bank"), Key: map[string]types.AttributeValue{"id": str(fmt.Sprintf("count%d", w))},
							UpdateExpression: s("SET v = :next"), ExpressionAttributeValues: map[string]types.AttributeValue{":next": n(v + 1)}}
						if v == 0 {
							in.ConditionExpression = s("attribute_not_exists(v)")
						} else {
							in.ConditionExpression, in.ExpressionAttributeValues[":v"] = s("v = :v"), n(v)
						}
						if _, err := c.UpdateItem(ctx, in); err != nil {
							if errorCode(err) != "" {
								t.Errorf("worker %d at %d: %v", w, v, err) // refused: the count went wrong
							}
							mu.Lock()
							inFlight[w] = v + 1
							mu.Unlock()
							return // the server is gone
						}
						mu.Lock()
						counted[w] = v + 1
						mu.Unlock()
						continue
					}
					from, to := r.IntN(accounts), r.IntN(accounts-1)
					if to >= from {
						to++
					}
					id := fmt.Sprintf("r%d-%d", w, step)
					_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
						{Update: &types.Update{TableName: s("bank"), Key: map[string]types.AttributeValue{"id": str(fmt.Sprintf("acct%d", from))},
							UpdateExpression: s("ADD balance :minus"), ConditionExpression: s("balance >= :one"),
							ExpressionAttributeValues: map[string]types.AttributeValue{":minus": n(-1), ":one": n(1)}}},
						{Update: &types.Update{TableName: s("bank"), Key: map[string]types.AttributeValue{"id": str(fmt.Sprintf("acct%d", to))},
							UpdateExpression: s("ADD balance :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)}}},
						{Put: &types.Put{TableName: s("bank"), Item: map[string]types.AttributeValue{"id": str(id), "from": n(from), "to": n(to)},
							ConditionExpression: s("attribute_not_exists(id)")}},
					}})
					if err != nil {
						code := errorCode(err)
						if code != "" && code != "TransactionCanceledException" && code != "TransactionConflictException" {
							t.Errorf("transfer %s: %v", id, err)
						}
						if code == "" {
							return // the server is gone
						}
						continue
					}
					mu.Lock()
					receipts[id] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	var running sync.WaitGroup
	running.Go(func() { run(srv.DynamoDB(), total) })
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
		mu.Lock()
		done := ops
		mu.Unlock()
		if done >= total/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d operations before the kill", done)
		}
	}
	srv.Kill()
	running.Wait()
	mu.Lock()
	before := ops
	mu.Unlock()
	if before >= total {
		t.Fatal("every operation finished before the kill; the test proves nothing")
	}
	srv.Restart()
	c := srv.DynamoDB()
	// A count sent as the server died may have been stored without its
	// answer: the item holds either it or the acknowledged one.
	for w, v := range inFlight {
		if v == 0 {
			continue
		}
		got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: s("bank"), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"id": str(fmt.Sprintf("count%d", w))}})
		if err != nil {
			t.Fatal(err)
		}
		stored := 0
		if a, ok := got.Item["v"].(*types.AttributeValueMemberN); ok {
			stored, _ = strconv.Atoi(a.Value)
		}
		switch stored {
		case v:
			counted[w] = v
		case counted[w]:
		default:
			t.Errorf("count%d holds %d after the restart: neither the acknowledged %d nor the unanswered %d", w, stored, counted[w], v)
		}
	}
	run(c, total+total/4) // more after the restart, from where the counts were

	// Every acknowledged write is there; the transactions are whole.
	items := map[string]map[string]types.AttributeValue{}
	p := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{TableName: s("bank"), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			items[it["id"].(*types.AttributeValueMemberS).Value] = it
		}
	}
	num := func(v types.AttributeValue) int {
		i, _ := strconv.Atoi(v.(*types.AttributeValueMemberN).Value)
		return i
	}
	for w := range workers {
		it := items[fmt.Sprintf("count%d", w)]
		if counted[w] > 0 && (it == nil || num(it["v"]) != counted[w]) {
			t.Errorf("count%d: %v, acknowledged %d", w, it["v"], counted[w])
		}
	}
	balance := make([]int, accounts)
	for a := range balance {
		balance[a] = opening
	}
	found := 0
	for id, it := range items {
		if it["from"] == nil {
			continue
		}
		found++
		balance[num(it["from"])]--
		balance[num(it["to"])]++
		delete(receipts, id)
	}
	if len(receipts) > 0 {
		t.Errorf("%d acknowledged transfers are missing", len(receipts))
	}
	for a := range accounts {
		if got := num(items[fmt.Sprintf("acct%d", a)]["balance"]); got != balance[a] {
			t.Errorf("acct%d holds %d; its %d receipts say %d: a transaction was half applied", a, got, found, balance[a])
		}
	}

	// The stream: every change once, in order, chained item by item.
	sc := srv.DynamoDBStreams()
	ds, err := sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: made.TableDescription.LatestStreamArn})
	if err != nil {
		t.Fatal(err)
	}
	it, err := sc.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: made.TableDescription.LatestStreamArn,
		ShardId: ds.StreamDescription.Shards[0].ShardId, ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]map[string]stypes.AttributeValue{}
	iter, records := it.ShardIterator, 0
	for {
		out, err := sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			records++
			id := r.Dynamodb.Keys["id"].(*stypes.AttributeValueMemberS).Value
			prev, seen := last[id]
			switch {
			case r.EventName == stypes.OperationTypeInsert && seen:
				t.Fatalf("%s inserted twice", id)
			case r.EventName == stypes.OperationTypeModify && (!seen || streamImage(r.Dynamodb.OldImage) != streamImage(prev)):
				t.Fatalf("%s: a change whose old image is not the previous new image: %s, before %s", id, streamImage(r.Dynamodb.OldImage), streamImage(prev))
			}
			last[id] = r.Dynamodb.NewImage
		}
		if len(out.Records) == 0 {
			break
		}
		iter = out.NextShardIterator
	}
	for id, img := range last {
		cur := items[id]
		if cur == nil || len(img) != len(cur) {
			t.Errorf("%s: the stream's last image %v, the item %v", id, img, cur)
		}
	}
	if len(last) != len(items) {
		t.Errorf("the stream names %d items, the table holds %d", len(last), len(items))
	}
	t.Logf("%d of %d operations before the kill; %d transfers, %d stream records, all consistent after the restart", before, total, found, records)
}

// streamImage writes a stream image in a form to compare.
func streamImage(m map[string]stypes.AttributeValue) string {
	b, _ := json.Marshal(m)
	return string(b)
}
