package e2e

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// nodeDocumentFunction uses the AWS SDK for JavaScript v3's document
// client (@aws-sdk/lib-dynamodb), unbundled, on table "notes".
const nodeDocumentFunction = `
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, BatchWriteCommand, GetCommand, QueryCommand, UpdateCommand, PutCommand,
  TransactWriteCommand, ScanCommand, DeleteCommand } from "@aws-sdk/lib-dynamodb";

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const TableName = "notes";

export const handler = async () => {
  const out = {};
  const items = [];
  for (let i = 0; i < 10; i++) {
    items.push({ PutRequest: { Item: { pk: "u", sk: i, tags: new Set(i % 2 ? ["a", "b"] : ["c"]), nested: { x: [1, 2], ok: i > 4 } } } });
  }
  await doc.send(new BatchWriteCommand({ RequestItems: { [TableName]: items } }));
  const got = await doc.send(new GetCommand({ TableName, Key: { pk: "u", sk: 3 } }));
  out.get = { sk: got.Item.sk, tags: [...got.Item.tags].sort(), nested: got.Item.nested };
  const q = await doc.send(new QueryCommand({ TableName, KeyConditionExpression: "pk = :p AND sk > :s",
    ExpressionAttributeValues: { ":p": "u", ":s": 4 }, ScanIndexForward: false, Limit: 3 }));
  out.query = { sks: q.Items.map((i) => i.sk), more: q.LastEvaluatedKey };
  const u = await doc.send(new UpdateCommand({ TableName, Key: { pk: "u", sk: 1 },
    UpdateExpression: "SET #n.x[1] = :v, #n.label = if_not_exists(#n.label, :l) ADD cnt :one DELETE tags :a",
    ExpressionAttributeNames: { "#n": "nested" }, ExpressionAttributeValues: { ":v": 20, ":l": "first", ":one": 1, ":a": new Set(["a"]) },
    ReturnValues: "UPDATED_NEW" }));
  out.update = { nested: u.Attributes.nested, cnt: u.Attributes.cnt, tags: [...u.Attributes.tags] };
  try {
    await doc.send(new PutCommand({ TableName, Item: { pk: "u", sk: 1 }, ConditionExpression: "attribute_not_exists(pk)",
      ReturnValuesOnConditionCheckFailure: "ALL_OLD" }));
    out.conditional = "stored";
  } catch (e) {
    out.conditional = [e.name, e.Item ? e.Item.cnt : null];
  }
  try {
    await doc.send(new TransactWriteCommand({ TransactItems: [
      { Put: { TableName, Item: { pk: "v", sk: 1 } } },
      { Update: { TableName, Key: { pk: "u", sk: 2 }, UpdateExpression: "SET cnt = :z", ConditionExpression: "cnt > :z",
        ExpressionAttributeValues: { ":z": 0 } } }] }));
    out.tx = "committed";
  } catch (e) {
    out.tx = [e.name, e.CancellationReasons.map((r) => r.Code)];
  }
  const s = await doc.send(new ScanCommand({ TableName, FilterExpression: "contains(tags, :t) AND nested.ok = :yes",
    ExpressionAttributeValues: { ":t": "b", ":yes": true }, Select: "COUNT" }));
  out.scan = [s.Count, s.ScannedCount];
  const d = await doc.send(new DeleteCommand({ TableName, Key: { pk: "u", sk: 9 }, ReturnValues: "ALL_OLD" }));
  out.deleted = d.Attributes.sk;
  return out;
};
`

// TestNodeDocumentClient runs a Node.js function that reads and writes a
// table through the JavaScript SDK v3's document client, unbundled as on
// Lambda: native JavaScript values, sets, nested paths, conditions and
// transactions.
func TestNodeDocumentClient(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	s := aws.String
	if _, err := srv.DynamoDB().CreateTable(ctx, &dynamodb.CreateTableInput{TableName: s("notes"), BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{{AttributeName: s("pk"), KeyType: types.KeyTypeHash}, {AttributeName: s("sk"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: s("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: s("sk"), AttributeType: types.ScalarAttributeTypeN}}}); err != nil {
		t.Fatal(err)
	}
	role := executionRole(t, srv, "notes", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:*:*:table/notes"}}`)
	zip := alofttest.ZipFiles(t, map[string]string{"index.mjs": nodeDocumentFunction})
	create(t, srv.Lambda(), "notes", runtimeCases()[2], zip, func(in *lambda.CreateFunctionInput) {
		in.Role, in.Timeout = s(role), aws.Int32(30)
	})
	_, res := invoke(t, srv.Lambda(), "notes", `{}`)
	if res.FunctionError != nil {
		t.Fatalf("the function failed: %s", res.Payload)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"get":         `{"nested":{"ok":false,"x":[1,2]},"sk":3,"tags":["a","b"]}`,
		"query":       `{"more":{"pk":"u","sk":7},"sks":[9,8,7]}`,
		"update":      `{"cnt":1,"nested":{"label":"first","ok":false,"x":[1,20]},"tags":["b"]}`,
		"conditional": `["ConditionalCheckFailedException",{"N":"1"}]`, // the document client leaves errors as they came
		"tx":          `["TransactionCanceledException",["None","ConditionalCheckFailed"]]`,
		"scan":        `[3,10]`,
		"deleted":     `9`,
	}
	for k, w := range want {
		if b, _ := json.Marshal(got[k]); string(b) != w {
			t.Errorf("%s: %s, want %s", k, b, w)
		}
	}
}
