package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// order is an item as an application keeps it, marshalled by the SDK's
// attributevalue helpers.
type order struct {
	Customer string   `dynamodbav:"customer"`
	N        int      `dynamodbav:"n"`
	Total    float64  `dynamodbav:"total"`
	Status   string   `dynamodbav:"status"`
	Tags     []string `dynamodbav:"tags,stringset,omitempty"`
	Lines    []line   `dynamodbav:"lines,omitempty"`
}

type line struct {
	SKU string `dynamodbav:"sku"`
	Qty int    `dynamodbav:"qty"`
}

// TestDynamoDB drives tables with aws-sdk-go-v2 as applications do:
// items marshalled by attributevalue, expressions built by the expression
// package, conditional writes, updates, queries with paging and filters,
// scans, batches and the refusals clients match on.
func TestDynamoDB(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.DynamoDB()
	ctx := ctxT(t)
	made, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("orders"), BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("customer"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("n"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("customer"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("n"), AttributeType: types.ScalarAttributeTypeN}}})
	if err != nil {
		t.Fatal(err)
	}
	if made.TableDescription == nil || aws.ToString(made.TableDescription.TableArn) != "arn:aws:dynamodb:us-east-1:000000000000:table/orders" {
		t.Fatalf("CreateTable's description: %+v", made.TableDescription)
	}
	if err := dynamodb.NewTableExistsWaiter(c).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders")}, 10e9); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("orders"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("a"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("a"), AttributeType: types.ScalarAttributeTypeS}}})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("a second table of the name: %v", err)
	}

	// Puts: only if new.
	notThere := expression.AttributeNotExists(expression.Name("customer"))
	cond, _ := expression.NewBuilder().WithCondition(notThere).Build()
	for i := 1; i <= 30; i++ {
		o := order{Customer: "ada", N: i, Total: float64(i) * 10.5, Status: "open"}
		if i%3 == 0 {
			o.Status = "shipped"
			o.Tags = []string{"gift", "express"}
		}
		av, err := attributevalue.MarshalMap(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"), Item: av, ConditionExpression: cond.Condition(),
			ExpressionAttributeNames: cond.Names()}); err != nil {
			t.Fatal(err)
		}
	}
	av, _ := attributevalue.MarshalMap(order{Customer: "ada", N: 1})
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"), Item: av, ConditionExpression: cond.Condition(),
		ExpressionAttributeNames: cond.Names(), ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || ccf.Item["total"] == nil {
		t.Fatalf("a put over an existing item: %v", err)
	}

	key := func(n int) map[string]types.AttributeValue {
		k, _ := attributevalue.MarshalMap(map[string]any{"customer": "ada", "n": n})
		return k
	}
	// An update: SET with arithmetic and list_append, ADD to a set,
	// REMOVE, under a condition, returning the new values.
	upd := expression.Set(expression.Name("total"), expression.Name("total").Plus(expression.Value(4.5))).
		Set(expression.Name("lines"), expression.ListAppend(expression.IfNotExists(expression.Name("lines"), expression.Value([]line{})), expression.Value([]line{{"bike", 1}}))).
		Add(expression.Name("tags"), expression.Value(&types.AttributeValueMemberSS{Value: []string{"vip"}})).
		Remove(expression.Name("status"))
	ex, err := expression.NewBuilder().WithUpdate(upd).WithCondition(expression.Name("total").LessThan(expression.Value(100))).Build()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders"), Key: key(2), UpdateExpression: ex.Update(),
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(), ReturnValues: types.ReturnValueAllNew})
	if err != nil {
		t.Fatal(err)
	}
	var got order
	if err := attributevalue.UnmarshalMap(out.Attributes, &got); err != nil {
		t.Fatal(err)
	}
	if got.Total != 25.5 || len(got.Lines) != 1 || got.Lines[0].SKU != "bike" || len(got.Tags) != 1 || got.Status != "" {
		t.Fatalf("after the update: %+v", got)
	}

	// Query: a range, a filter, a projection, paging, backwards, COUNT.
	kc := expression.Key("customer").Equal(expression.Value("ada")).And(expression.Key("n").Between(expression.Value(5), expression.Value(24)))
	filter := expression.Name("status").Equal(expression.Value("shipped"))
	qx, _ := expression.NewBuilder().WithKeyCondition(kc).WithFilter(filter).WithProjection(expression.NamesList(expression.Name("n"), expression.Name("status"))).Build()
	var seen []int
	var start map[string]types.AttributeValue
	pages := 0
	for {
		q, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), KeyConditionExpression: qx.KeyCondition(), FilterExpression: qx.Filter(),
			ProjectionExpression: qx.Projection(), ExpressionAttributeNames: qx.Names(), ExpressionAttributeValues: qx.Values(), Limit: aws.Int32(7), ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, it := range q.Items {
			var o order
			attributevalue.UnmarshalMap(it, &o)
			if o.Total != 0 || o.Status != "shipped" {
				t.Fatalf("a projected, filtered item: %+v", it)
			}
			seen = append(seen, o.N)
		}
		if q.LastEvaluatedKey == nil {
			break
		}
		start = q.LastEvaluatedKey
	}
	want := []int{6, 9, 12, 15, 18, 21, 24}
	if pages != 3 || len(seen) != len(want) {
		t.Fatalf("query over %d pages saw %v, want %v", pages, seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("query saw %v, want %v", seen, want)
		}
	}
	back, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), KeyConditionExpression: aws.String("customer = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: "ada"}}, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(1)})
	if err != nil || len(back.Items) != 1 {
		t.Fatalf("backwards: %v", err)
	}
	if n := back.Items[0]["n"].(*types.AttributeValueMemberN).Value; n != "30" {
		t.Fatalf("the last order first: %s", n)
	}
	cnt, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), KeyConditionExpression: aws.String("customer = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: "ada"}}, Select: types.SelectCount})
	if err != nil || cnt.Count != 30 || cnt.Items != nil {
		t.Fatalf("COUNT: %+v %v", cnt, err)
	}

	// Batches and a scan.
	var writes []types.WriteRequest
	for i := range 10 {
		av, _ := attributevalue.MarshalMap(order{Customer: "bob", N: i, Status: "open"})
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
	}
	writes = append(writes, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(30)}})
	if _, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"orders": writes}}); err != nil {
		t.Fatal(err)
	}
	bg, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"orders": {Keys: []map[string]types.AttributeValue{key(1), key(30), key(2)}}}})
	if err != nil || len(bg.Responses["orders"]) != 2 {
		t.Fatalf("batch get: %+v %v", bg, err)
	}
	sc, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("orders"), ConsistentRead: aws.Bool(true)})
	if err != nil || sc.Count != 39 {
		t.Fatalf("scan: %d %v", sc.Count, err)
	}
	total := 0
	for seg := range 4 {
		p, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("orders"), Segment: aws.Int32(int32(seg)), TotalSegments: aws.Int32(4)})
		if err != nil {
			t.Fatal(err)
		}
		total += int(p.Count)
	}
	if total != 39 {
		t.Fatalf("four segments held %d items", total)
	}
	desc, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders")})
	if err != nil || aws.ToInt64(desc.Table.ItemCount) != 39 || desc.Table.TableStatus != types.TableStatusActive {
		t.Fatalf("describe: %+v %v", desc, err)
	}

	// Refusals, in DynamoDB's words.
	bad := func(name string, err error, wantType any, msg string) {
		t.Helper()
		if err == nil || !errors.As(err, wantType) {
			t.Fatalf("%s: %v", name, err)
		}
		if msg != "" && !strings.Contains(err.Error(), msg) {
			t.Fatalf("%s: %v, want %q", name, err, msg)
		}
	}
	var ve *types.ResourceNotFoundException
	_, err = c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("missing"), Key: key(1)})
	bad("a missing table", err, &ve, "Requested resource not found")
	var smithyErr interface{ ErrorCode() string }
	_, err = c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("orders"), Key: map[string]types.AttributeValue{"customer": &types.AttributeValueMemberS{Value: "ada"}}})
	bad("a partial key", err, &smithyErr, "The provided key element does not match the schema")
	_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders"), Key: key(1), UpdateExpression: aws.String("SET status = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "x"}}})
	bad("a reserved word", err, &smithyErr, "Attribute name is a reserved keyword; reserved keyword: status")
	_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders"), Key: key(1), UpdateExpression: aws.String("SET #s = :s"),
		ExpressionAttributeNames: map[string]string{"#s": "status"}, ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "x"}, ":unused": &types.AttributeValueMemberS{Value: "y"}}})
	bad("an unused value", err, &smithyErr, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}")
	_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders"), Key: key(1), UpdateExpression: aws.String("SET n = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: "5"}}})
	bad("a key update", err, &smithyErr, "Cannot update attribute n. This attribute is part of the key")
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"), Item: map[string]types.AttributeValue{
		"customer": &types.AttributeValueMemberS{Value: "x"}, "n": &types.AttributeValueMemberN{Value: "1"}, "big": &types.AttributeValueMemberS{Value: string(make([]byte, 410*1024))}}})
	bad("an item over 400 KB", err, &smithyErr, "Item size has exceeded the maximum allowed size")
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"), Item: map[string]types.AttributeValue{
		"customer": &types.AttributeValueMemberS{Value: "x"}, "n": &types.AttributeValueMemberN{Value: "1"}, "s": &types.AttributeValueMemberSS{Value: []string{"a", "a"}}}})
	bad("a set with a repeat", err, &smithyErr, "contains duplicates")
	if _, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders")})
	bad("a deleted table", err, &ve, "")
}

// TestDynamoDBTransactions writes to two tables in one transaction,
// cancels one whose condition fails (with its reasons), repeats one by
// its client token, and reads in a transaction.
func TestDynamoDBTransactions(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.DynamoDB()
	ctx := ctxT(t)
	for _, name := range []string{"stock", "sales"} {
		if _, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}}}); err != nil {
			t.Fatal(err)
		}
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("stock"), Item: map[string]types.AttributeValue{"id": s("bike"), "left": n("1")}}); err != nil {
		t.Fatal(err)
	}
	sell := func(sale, token string) (*dynamodb.TransactWriteItemsOutput, error) {
		in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{TableName: aws.String("stock"), Key: map[string]types.AttributeValue{"id": s("bike")},
				UpdateExpression: aws.String("SET #l = #l - :one"), ConditionExpression: aws.String("#l >= :one"),
				ExpressionAttributeNames: map[string]string{"#l": "left"}, ExpressionAttributeValues: map[string]types.AttributeValue{":one": n("1")},
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Put: &types.Put{TableName: aws.String("sales"), Item: map[string]types.AttributeValue{"id": s(sale), "what": s("bike")},
				ConditionExpression: aws.String("attribute_not_exists(id)")}},
		}}
		if token != "" {
			in.ClientRequestToken = aws.String(token)
		}
		return c.TransactWriteItems(ctx, in)
	}
	if _, err := sell("s1", "token-1"); err != nil {
		t.Fatal(err)
	}
	// The same token and request again: accepted, not written twice.
	if _, err := sell("s1", "token-1"); err != nil {
		t.Fatalf("a repeat with its token: %v", err)
	}
	_, err := sell("s2", "token-1")
	var mismatch *types.IdempotentParameterMismatchException
	if !errors.As(err, &mismatch) {
		t.Fatalf("the token with another request: %v", err)
	}
	// None left: the second sale is cancelled whole.
	_, err = sell("s2", "")
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) || len(cancelled.CancellationReasons) != 2 ||
		aws.ToString(cancelled.CancellationReasons[0].Code) != "ConditionalCheckFailed" || aws.ToString(cancelled.CancellationReasons[1].Code) != "None" ||
		cancelled.CancellationReasons[0].Item["left"] == nil {
		t.Fatalf("a sale with none left: %v", err)
	}
	got, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: aws.String("stock"), Key: map[string]types.AttributeValue{"id": s("bike")}}},
		{Get: &types.Get{TableName: aws.String("sales"), Key: map[string]types.AttributeValue{"id": s("s1")}}},
		{Get: &types.Get{TableName: aws.String("sales"), Key: map[string]types.AttributeValue{"id": s("s2")}}},
	}})
	if err != nil || len(got.Responses) != 3 {
		t.Fatalf("transact get: %+v %v", got, err)
	}
	if left := got.Responses[0].Item["left"].(*types.AttributeValueMemberN).Value; left != "0" || got.Responses[1].Item == nil || got.Responses[2].Item != nil {
		t.Fatalf("after the sales: stock %s, s1 %v, s2 %v", left, got.Responses[1].Item, got.Responses[2].Item)
	}
}

// TestDynamoDBStreams reads a table's changes through the streams API as
// a stream consumer does: ListStreams, DescribeStream, GetShardIterator
// and GetRecords, with each view of a change.
func TestDynamoDBStreams(t *testing.T) {
	srv := alofttest.Start(t)
	c, sc := srv.DynamoDB(), srv.DynamoDBStreams()
	ctx := ctxT(t)
	out, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("feed"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.TableDescription.LatestStreamArn)
	if arn == "" {
		t.Fatal("no LatestStreamArn")
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("feed"), Item: map[string]types.AttributeValue{"id": s("a"), "v": s("1")}})
	c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("feed"), Key: map[string]types.AttributeValue{"id": s("a")},
		UpdateExpression: aws.String("SET v = :v"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("2")}})
	c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("feed"), Key: map[string]types.AttributeValue{"id": s("a")}})

	ls, err := sc.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String("feed")})
	if err != nil || len(ls.Streams) != 1 || aws.ToString(ls.Streams[0].StreamArn) != arn {
		t.Fatalf("list streams: %+v %v", ls, err)
	}
	desc, err := sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	if err != nil || len(desc.StreamDescription.Shards) != 1 || desc.StreamDescription.StreamStatus != stypes.StreamStatusEnabled {
		t.Fatalf("describe stream: %+v %v", desc, err)
	}
	it, err := sc.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: desc.StreamDescription.Shards[0].ShardId,
		ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(recs.Records) != 3 {
		t.Fatalf("records: %+v %v", recs, err)
	}
	names := []stypes.OperationType{recs.Records[0].EventName, recs.Records[1].EventName, recs.Records[2].EventName}
	if names[0] != stypes.OperationTypeInsert || names[1] != stypes.OperationTypeModify || names[2] != stypes.OperationTypeRemove {
		t.Fatalf("event names %v", names)
	}
	mod := recs.Records[1].Dynamodb
	if mod.OldImage["v"].(*stypes.AttributeValueMemberS).Value != "1" || mod.NewImage["v"].(*stypes.AttributeValueMemberS).Value != "2" ||
		aws.ToString(mod.SequenceNumber) <= aws.ToString(recs.Records[0].Dynamodb.SequenceNumber) {
		t.Fatalf("the MODIFY record: %+v", mod)
	}
	// Disabled: LatestStreamArn stays, the stream reads DISABLED.
	if _, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("feed"), StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	desc, _ = sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	if desc.StreamDescription.StreamStatus != stypes.StreamStatusDisabled {
		t.Fatalf("after disabling: %s", desc.StreamDescription.StreamStatus)
	}
	_, err = sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String("forged")})
	var smithyErr interface{ ErrorCode() string }
	if !errors.As(err, &smithyErr) || smithyErr.ErrorCode() != "ValidationException" {
		t.Fatalf("a forged iterator: %v", err)
	}
}
