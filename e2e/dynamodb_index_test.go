package e2e

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// errorCode returns the AWS error code of err, or "".
func errorCode(err error) string {
	var e interface{ ErrorCode() string }
	if errors.As(err, &e) {
		return e.ErrorCode()
	}
	return ""
}

// TestDynamoDBIndexes drives secondary indexes with aws-sdk-go-v2: a
// sparse global index queried backwards with paging, a local index with
// its projection and the whole items, the refusals DynamoDB gives, and
// a global index added (filled from the items) and removed by
// UpdateTable.
func TestDynamoDBIndexes(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.DynamoDB()
	ctx := ctxT(t)
	s := aws.String
	attr := func(name string, typ types.ScalarAttributeType) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: s(name), AttributeType: typ}
	}
	key := func(names ...string) []types.KeySchemaElement {
		out := []types.KeySchemaElement{{AttributeName: s(names[0]), KeyType: types.KeyTypeHash}}
		if len(names) > 1 {
			out = append(out, types.KeySchemaElement{AttributeName: s(names[1]), KeyType: types.KeyTypeRange})
		}
		return out
	}
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: s("scores"), BillingMode: types.BillingModePayPerRequest,
		KeySchema: key("user", "game"),
		AttributeDefinitions: []types.AttributeDefinition{attr("user", types.ScalarAttributeTypeS), attr("game", types.ScalarAttributeTypeS),
			attr("score", types.ScalarAttributeTypeN), attr("day", types.ScalarAttributeTypeS)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: s("byScore"), KeySchema: key("game", "score"),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}}},
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{{IndexName: s("byDay"), KeySchema: key("user", "day"),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"note"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	type score struct {
		User  string `dynamodbav:"user"`
		Game  string `dynamodbav:"game"`
		Score int    `dynamodbav:"score,omitempty"`
		Day   string `dynamodbav:"day,omitempty"`
		Note  string `dynamodbav:"note,omitempty"`
		Extra string `dynamodbav:"extra,omitempty"`
	}
	for i := range 12 {
		sc := score{User: fmt.Sprintf("u%02d", i), Game: "chess", Score: (i + 1) * 10, Day: fmt.Sprintf("2026-0%d-01", i%3+1), Note: "n", Extra: "x"}
		if i == 11 {
			sc = score{User: "u11", Game: "chess"} // in no index
		}
		av, _ := attributevalue.MarshalMap(sc)
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: s("scores"), Item: av}); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 { // a second game for some users, so the local index has several per user
			sc.Game, sc.Day = "go", "2026-01-15"
			av, _ := attributevalue.MarshalMap(sc)
			if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: s("scores"), Item: av}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The top scores of a game, five at a time, from the global index.
	kc, _ := expression.NewBuilder().WithKeyCondition(expression.Key("game").Equal(expression.Value("chess"))).Build()
	var top []score
	var start map[string]types.AttributeValue
	pages := 0
	for {
		out, err := c.Query(ctx, &dynamodb.QueryInput{TableName: s("scores"), IndexName: s("byScore"), KeyConditionExpression: kc.KeyCondition(),
			ExpressionAttributeNames: kc.Names(), ExpressionAttributeValues: kc.Values(), ScanIndexForward: aws.Bool(false), Limit: aws.Int32(5), ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		var page []score
		attributevalue.UnmarshalListOfMaps(out.Items, &page)
		top = append(top, page...)
		if out.LastEvaluatedKey == nil {
			break
		}
		if len(out.LastEvaluatedKey) != 3 {
			t.Fatalf("an index's LastEvaluatedKey has the table's and the index's keys: %v", out.LastEvaluatedKey)
		}
		start = out.LastEvaluatedKey
	}
	if len(top) != 11 || top[0].Score != 110 || top[10].Score != 10 || top[0].Note != "" || top[0].User != "u10" || pages != 3 {
		t.Fatalf("by score, %d pages: %+v", pages, top)
	}
	for _, bad := range []struct {
		name string
		in   *dynamodb.QueryInput
		msg  string
	}{
		{"consistent read of a global index", &dynamodb.QueryInput{ConsistentRead: aws.Bool(true)}, "Consistent reads are not supported on global secondary indexes"},
		{"all attributes of a keys-only global index", &dynamodb.QueryInput{Select: types.SelectAllAttributes}, "Select type ALL_ATTRIBUTES is not supported for global secondary index byScore"},
		{"an index the table does not have", &dynamodb.QueryInput{IndexName: s("byNothing")}, "The table does not have the specified index: byNothing"},
	} {
		in := bad.in
		in.TableName, in.KeyConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = s("scores"), kc.KeyCondition(), kc.Names(), kc.Values()
		if in.IndexName == nil {
			in.IndexName = s("byScore")
		}
		if _, err := c.Query(ctx, in); errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%s: %v", bad.name, err)
		}
	}
	// The local index: its projection by default, whole items when asked.
	lk, _ := expression.NewBuilder().WithKeyCondition(expression.Key("user").Equal(expression.Value("u04")).And(expression.Key("day").BeginsWith("2026-01"))).Build()
	lin := &dynamodb.QueryInput{TableName: s("scores"), IndexName: s("byDay"), KeyConditionExpression: lk.KeyCondition(),
		ExpressionAttributeNames: lk.Names(), ExpressionAttributeValues: lk.Values()}
	out, err := c.Query(ctx, lin)
	if err != nil || len(out.Items) != 1 || out.Items[0]["note"] == nil || out.Items[0]["extra"] != nil || out.Items[0]["game"].(*types.AttributeValueMemberS).Value != "go" {
		t.Fatalf("local index, projected: %+v %v", out, err)
	}
	lin.Select = types.SelectAllAttributes
	if out, err = c.Query(ctx, lin); err != nil || len(out.Items) != 1 || out.Items[0]["extra"] == nil {
		t.Fatalf("local index, all attributes: %+v %v", out, err)
	}
	// A scan of the sparse index counts the items it holds.
	cnt, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: s("scores"), IndexName: s("byScore"), Select: types.SelectCount})
	if err != nil || cnt.Count != 14 {
		t.Fatalf("scan of the global index: %+v %v", cnt, err)
	}
	// An index key of the wrong type is refused.
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: s("scores"), Item: map[string]types.AttributeValue{
		"user": &types.AttributeValueMemberS{Value: "u1"}, "game": &types.AttributeValueMemberS{Value: "go"}, "score": &types.AttributeValueMemberS{Value: "high"}}})
	if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "Type mismatch for Index Key score Expected: N Actual: S IndexName: byScore") {
		t.Fatalf("a wrong index key type: %v", err)
	}
	// A global index added later is filled from the items.
	_, err = c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: s("scores"), AttributeDefinitions: []types.AttributeDefinition{attr("day", types.ScalarAttributeTypeS)},
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{IndexName: s("byDayAll"),
			KeySchema: key("day", "user"), Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}}}})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: s("scores")})
	if err != nil || len(desc.Table.GlobalSecondaryIndexes) != 2 || len(desc.Table.LocalSecondaryIndexes) != 1 {
		t.Fatalf("described indexes: %+v %v", desc, err)
	}
	for _, g := range desc.Table.GlobalSecondaryIndexes {
		if g.IndexStatus != types.IndexStatusActive || aws.ToInt64(g.ItemCount) == 0 || !strings.HasSuffix(aws.ToString(g.IndexArn), "table/scores/index/"+aws.ToString(g.IndexName)) {
			t.Errorf("index %s: %s, %d items, %s", aws.ToString(g.IndexName), g.IndexStatus, aws.ToInt64(g.ItemCount), aws.ToString(g.IndexArn))
		}
	}
	dk, _ := expression.NewBuilder().WithKeyCondition(expression.Key("day").Equal(expression.Value("2026-01-15"))).Build()
	out, err = c.Query(ctx, &dynamodb.QueryInput{TableName: s("scores"), IndexName: s("byDayAll"), KeyConditionExpression: dk.KeyCondition(),
		ExpressionAttributeNames: dk.Names(), ExpressionAttributeValues: dk.Values()})
	if err != nil || len(out.Items) != 3 || out.Items[0]["extra"] == nil {
		t.Fatalf("the added index: %+v %v", out, err)
	}
	if _, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: s("scores"),
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Delete: &types.DeleteGlobalSecondaryIndexAction{IndexName: s("byScore")}}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Query(ctx, &dynamodb.QueryInput{TableName: s("scores"), IndexName: s("byScore"), KeyConditionExpression: kc.KeyCondition(),
		ExpressionAttributeNames: kc.Names(), ExpressionAttributeValues: kc.Values()})
	if errorCode(err) != "ValidationException" {
		t.Fatalf("a removed index: %v", err)
	}
	// A local index must share the table's partition key.
	_, err = c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: s("bad"), BillingMode: types.BillingModePayPerRequest, KeySchema: key("a", "b"),
		AttributeDefinitions:  []types.AttributeDefinition{attr("a", types.ScalarAttributeTypeS), attr("b", types.ScalarAttributeTypeS), attr("c", types.ScalarAttributeTypeS)},
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{{IndexName: s("byC"), KeySchema: key("c", "b"), Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}}})
	if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "does not have the same leading hash key") {
		t.Fatalf("a local index on another partition key: %v", err)
	}
}

// TestDynamoDBTimeToLive turns a table's time to live on with the SDK
// and sees an expired item deleted in the background, its deletion in
// the stream as the service's (userIdentity dynamodb.amazonaws.com),
// and an unexpired one kept.
func TestDynamoDBTimeToLive(t *testing.T) {
	srv := alofttest.Start(t)
	c, sc := srv.DynamoDB(), srv.DynamoDBStreams()
	ctx := ctxT(t)
	s := aws.String
	made, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: s("sessions"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: s("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: s("id"), AttributeType: types.ScalarAttributeTypeS}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: s("sessions")})
	if err != nil || desc.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusDisabled {
		t.Fatalf("before: %+v %v", desc, err)
	}
	if _, err := c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: s("sessions"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: s("expires")}}); err != nil {
		t.Fatal(err)
	}
	desc, err = c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: s("sessions")})
	if err != nil || desc.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(desc.TimeToLiveDescription.AttributeName) != "expires" {
		t.Fatalf("after: %+v %v", desc, err)
	}
	now := time.Now().Unix()
	for id, exp := range map[string]int64{"old": now - 60, "new": now + 3600} {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: s("sessions"), Item: map[string]types.AttributeValue{
			"id": &types.AttributeValueMemberS{Value: id}, "expires": &types.AttributeValueMemberN{Value: strconv.FormatInt(exp, 10)}}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: s("sessions"), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "old"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got.Item == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired item is still there after 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: s("sessions"), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "new"}}})
	if err != nil || got.Item == nil {
		t.Fatalf("the unexpired item: %+v %v", got, err)
	}
	arn := made.TableDescription.LatestStreamArn
	ds, err := sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	it, err := sc.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: arn, ShardId: ds.StreamDescription.Shards[0].ShardId,
		ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	var removes int
	for _, r := range recs.Records {
		if r.EventName == stypes.OperationTypeRemove {
			removes++
			if r.UserIdentity == nil || aws.ToString(r.UserIdentity.Type) != "Service" || aws.ToString(r.UserIdentity.PrincipalId) != "dynamodb.amazonaws.com" || r.Dynamodb.OldImage["id"] == nil {
				t.Fatalf("the deletion's record: %+v", r)
			}
		}
	}
	if len(recs.Records) != 3 || removes != 1 {
		t.Fatalf("records: %d, removals %d", len(recs.Records), removes)
	}
}

// TestDynamoDBLegacyParameters sends the parameters older clients use
// instead of expressions (Expected, AttributeUpdates, KeyConditions,
// QueryFilter, ScanFilter, AttributesToGet, ConditionalOperator) and
// gets what the expressions they stand for give; mixing the two is
// refused as DynamoDB refuses it.
func TestDynamoDBLegacyParameters(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.DynamoDB()
	ctx := ctxT(t)
	s := aws.String
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	num := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	if _, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: s("legacy"), BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{{AttributeName: s("pk"), KeyType: types.KeyTypeHash}, {AttributeName: s("sk"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: s("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: s("sk"), AttributeType: types.ScalarAttributeTypeN}}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		// Expected Exists false: only if new.
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: s("legacy"), Item: map[string]types.AttributeValue{"pk": str("a"), "sk": num(strconv.Itoa(i)),
			"color": str([]string{"red", "blue"}[i%2])}, Expected: map[string]types.ExpectedAttributeValue{"pk": {Exists: aws.Bool(false)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: s("legacy"), Item: map[string]types.AttributeValue{"pk": str("a"), "sk": num("1")},
		Expected: map[string]types.ExpectedAttributeValue{"pk": {Exists: aws.Bool(false)}}})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("Expected Exists false on an existing item: %v", err)
	}
	// AttributeUpdates with a legacy condition joined by OR.
	_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: s("legacy"), Key: map[string]types.AttributeValue{"pk": str("a"), "sk": num("2")},
		AttributeUpdates: map[string]types.AttributeValueUpdate{"hits": {Action: types.AttributeActionAdd, Value: num("3")}, "color": {Action: types.AttributeActionDelete},
			"size": {Action: types.AttributeActionPut, Value: str("L")}},
		Expected: map[string]types.ExpectedAttributeValue{"color": {ComparisonOperator: types.ComparisonOperatorEq, AttributeValueList: []types.AttributeValue{str("green")}},
			"sk": {ComparisonOperator: types.ComparisonOperatorGt, AttributeValueList: []types.AttributeValue{num("1")}}},
		ConditionalOperator: types.ConditionalOperatorOr, ReturnValues: types.ReturnValueAllNew})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: s("legacy"), Key: map[string]types.AttributeValue{"pk": str("a"), "sk": num("2")},
		AttributesToGet: []string{"hits", "size", "color"}, ConsistentRead: aws.Bool(true)})
	if err != nil || len(got.Item) != 2 || got.Item["hits"].(*types.AttributeValueMemberN).Value != "3" || got.Item["size"] == nil {
		t.Fatalf("after AttributeUpdates, AttributesToGet: %+v %v", got, err)
	}
	// KeyConditions and QueryFilter.
	q, err := c.Query(ctx, &dynamodb.QueryInput{TableName: s("legacy"),
		KeyConditions: map[string]types.Condition{"pk": {ComparisonOperator: types.ComparisonOperatorEq, AttributeValueList: []types.AttributeValue{str("a")}},
			"sk": {ComparisonOperator: types.ComparisonOperatorBetween, AttributeValueList: []types.AttributeValue{num("2"), num("5")}}},
		QueryFilter: map[string]types.Condition{"color": {ComparisonOperator: types.ComparisonOperatorIn, AttributeValueList: []types.AttributeValue{str("blue"), str("green")}}}})
	if err != nil || q.Count != 2 || q.ScannedCount != 4 {
		t.Fatalf("KeyConditions and QueryFilter: %+v %v", q, err)
	}
	sc, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: s("legacy"), ScanFilter: map[string]types.Condition{
		"color": {ComparisonOperator: types.ComparisonOperatorNull}}})
	if err != nil || sc.Count != 1 {
		t.Fatalf("ScanFilter NULL: %+v %v", sc, err)
	}
	_, err = c.Query(ctx, &dynamodb.QueryInput{TableName: s("legacy"), KeyConditionExpression: s("pk = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": str("a")},
		QueryFilter:               map[string]types.Condition{"color": {ComparisonOperator: types.ComparisonOperatorNotNull}}})
	if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "Can not use both expression and non-expression parameters") {
		t.Fatalf("legacy and expression parameters together: %v", err)
	}
	_, err = c.Query(ctx, &dynamodb.QueryInput{TableName: s("legacy"),
		KeyConditions: map[string]types.Condition{"pk": {ComparisonOperator: types.ComparisonOperatorEq, AttributeValueList: []types.AttributeValue{str("a"), str("b")}}}})
	if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "Invalid number of argument(s) for the EQ ComparisonOperator") {
		t.Fatalf("EQ with two values: %v", err)
	}
}
