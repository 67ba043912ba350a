package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// boto3TableFunction drives a table through boto3's Table resource, as
// Python functions on Lambda do, and answers with what it read: batch
// writes and deletes, key conditions, filters on nested paths and sets,
// projections, every kind of update, a failed condition, a cancelled
// transaction and an index query.
const boto3TableFunction = `
from decimal import Decimal

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

db = boto3.resource("dynamodb")
t = db.Table("books")


def handler(event, context):
    out = {}
    with t.batch_writer() as b:
        for i in range(30):
            b.put_item(Item={"shelf": "s1" if i < 20 else "s2", "n": i, "title": f"t{i:02d}",
                             "tags": {"a", "b"} if i % 2 else {"c"}, "price": Decimal(f"{i}.25"),
                             "meta": {"pages": i * 10, "authors": ["x", "y"]}})
    r = t.query(KeyConditionExpression=Key("shelf").eq("s1") & Key("n").between(5, 9), ScanIndexForward=False)
    out["between"] = [int(i["n"]) for i in r["Items"]]
    r = t.query(KeyConditionExpression=Key("shelf").eq("s1"),
                FilterExpression=Attr("tags").contains("a") & Attr("meta.pages").gt(100), Limit=15)
    out["filtered"] = [[int(i["n"]) for i in r["Items"]], r["Count"], r["ScannedCount"], "LastEvaluatedKey" in r]
    r = t.scan(FilterExpression=Attr("title").begins_with("t1") | Attr("n").is_in([25, 26]),
               ProjectionExpression="#t", ExpressionAttributeNames={"#t": "title"})
    out["scan"] = sorted(i["title"] for i in r["Items"])
    out["projected"] = sorted({k for i in r["Items"] for k in i})
    r = t.scan(FilterExpression=Attr("meta.authors").size().eq(2) & Attr("price").attribute_type("N") & Attr("missing").not_exists(),
               Select="COUNT")
    out["count"] = r["Count"]
    r = t.update_item(
        Key={"shelf": "s1", "n": 1},
        UpdateExpression="SET price = price + :d, hits = if_not_exists(hits, :zero) + :one, "
                         "meta.authors = list_append(meta.authors, :more) REMOVE title ADD labels :new DELETE tags :old",
        ExpressionAttributeValues={":d": Decimal("0.75"), ":zero": 0, ":one": 1, ":more": ["z"], ":new": {"d"}, ":old": {"a"}},
        ConditionExpression=Attr("price").lt(2) & Attr("title").exists(),
        ReturnValues="ALL_NEW")
    a = r["Attributes"]
    out["updated"] = {"price": str(a["price"]), "hits": int(a["hits"]), "authors": a["meta"]["authors"],
                      "title": "title" in a, "tags": sorted(a["tags"]), "labels": sorted(a["labels"])}
    try:
        t.put_item(Item={"shelf": "s1", "n": 1}, ConditionExpression=Attr("n").not_exists())
        out["conditional"] = "stored"
    except ClientError as e:
        out["conditional"] = e.response["Error"]["Code"]
    try:
        db.meta.client.transact_write_items(TransactItems=[
            {"Put": {"TableName": "books", "Item": {"shelf": "s3", "n": 1}}},
            {"ConditionCheck": {"TableName": "books", "Key": {"shelf": "s1", "n": 2},
                                "ConditionExpression": "attribute_not_exists(shelf)"}}])
        out["tx"] = "committed"
    except ClientError as e:
        out["tx"] = [r["Code"] for r in e.response["CancellationReasons"]]
    out["s3"] = "Item" in t.get_item(Key={"shelf": "s3", "n": 1}, ConsistentRead=True)
    r = t.query(IndexName="byTitle", KeyConditionExpression=Key("title").eq("t05"))
    out["index"] = [int(i["n"]) for i in r["Items"]]
    with t.batch_writer() as b:
        for i in range(20, 30):
            b.delete_item(Key={"shelf": "s2", "n": i})
    out["left"] = t.scan(Select="COUNT", ConsistentRead=True)["Count"]
    return out
`

// TestBoto3TableResource runs a Python function inside Aloft that uses
// boto3's Table resource (unbundled, as on Lambda) and checks every
// answer against what DynamoDB's documentation says it would be.
func TestBoto3TableResource(t *testing.T) {
	home, _ := os.UserHomeDir()
	if _, err := os.Stat(filepath.Join(home, ".local", "share", "aloft", "sdk", "python", "boto3")); err != nil && os.Getenv("ALOFT_SDK_DIR") == "" {
		t.Fatal("boto3 for Python functions is not installed: run bash scripts/install-sdks.sh as root (scripts/test.sh does)")
	}
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	s := aws.String
	_, err := srv.DynamoDB().CreateTable(ctx, &dynamodb.CreateTableInput{TableName: s("books"), BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{{AttributeName: s("shelf"), KeyType: types.KeyTypeHash}, {AttributeName: s("n"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: s("shelf"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: s("n"), AttributeType: types.ScalarAttributeTypeN}, {AttributeName: s("title"), AttributeType: types.ScalarAttributeTypeS}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: s("byTitle"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: s("title"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}}}})
	if err != nil {
		t.Fatal(err)
	}
	role := executionRole(t, srv, "books", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:*:*:table/books*"}}`)
	zip := alofttest.ZipFiles(t, map[string]string{"app.py": boto3TableFunction})
	create(t, srv.Lambda(), "books", runtimeCase{"python", "python3.12", "app.handler", "", nil}, zip, func(in *lambda.CreateFunctionInput) {
		in.Role, in.Timeout = s(role), aws.Int32(30)
	})
	_, res := invoke(t, srv.Lambda(), "books", `{}`)
	if res.FunctionError != nil {
		t.Fatalf("the function failed: %s", res.Payload)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"between":     `[9,8,7,6,5]`,
		"filtered":    `[[11,13],2,15,true]`,
		"scan":        `["t10","t11","t12","t13","t14","t15","t16","t17","t18","t19","t25","t26"]`,
		"projected":   `["title"]`,
		"count":       `30`,
		"updated":     `{"authors":["x","y","z"],"hits":1,"labels":["d"],"price":"2","tags":["b"],"title":false}`,
		"conditional": `"ConditionalCheckFailedException"`,
		"tx":          `["None","ConditionalCheckFailed"]`,
		"s3":          `false`,
		"index":       `[5]`,
		"left":        `20`,
	}
	for k, w := range want {
		b, _ := json.Marshal(got[k])
		if string(b) != w {
			t.Errorf("%s: %s, want %s", k, b, w)
		}
	}
}
