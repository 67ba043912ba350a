package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/client"
	"github.com/aloft-dev/aloft/internal/store"
)

// TestClusterForms starts three nodes that form one cluster: what is
// created through one node is served by the others, the backbone's
// streams are raised to three replicas, and a node with another secret is
// kept out.
func TestClusterForms(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := alofttest.StartCluster(t, 3)
	nodes, names, addrs := c.Nodes, c.Names, c.Addrs
	for i, n := range nodes {
		st, err := alofttest.ClusterHealth(n.URL)
		if err != nil || st.Node != names[i] || st.Name != store.DefaultClusterName {
			t.Fatalf("node %d reports itself as %+v (%v)", i+1, st, err)
		}
	}

	// A function created through node 1 runs through nodes 2 and 3.
	rc := runtimeCases()[0]
	create(t, nodes[0].Lambda(), "clustered", rc, rc.code(t, "v1"))
	for i, n := range nodes[1:] {
		var out *lambda.InvokeOutput
		var err error
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
			out, err = n.Lambda().Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("clustered"), Payload: []byte(`{"greeting":"hi"}`)})
			if err == nil || !strings.Contains(err.Error(), "ResourceNotFound") || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatalf("invoke through node %d: %v", i+2, err)
		}
		var a answer
		if out.FunctionError != nil || json.Unmarshal(out.Payload, &a) != nil || a.Version != "v1" || a.Function != "clustered" {
			t.Fatalf("invoke through node %d: error %v, payload %s", i+2, aws.ToString(out.FunctionError), out.Payload)
		}
	}

	// A table created and written through node 2 is read through node 3.
	db2, db3 := nodes[1].DynamoDB(), nodes[2].DynamoDB()
	if _, err := db2.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("clustered"),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatalf("create table through node 2: %v", err)
	}
	if err := dynamodb.NewTableExistsWaiter(db2).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("clustered")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := db2.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("clustered"), Item: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "k1"}, "v": &ddbtypes.AttributeValueMemberS{Value: "written on node 2"}}}); err != nil {
		t.Fatalf("put through node 2: %v", err)
	}
	var got string
	for deadline := time.Now().Add(30 * time.Second); got == "" && time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		out, err := db3.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("clustered"), ConsistentRead: aws.Bool(true),
			Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "k1"}}})
		if err != nil {
			t.Logf("get through node 3: %v", err)
			continue
		}
		if v, ok := out.Item["v"].(*ddbtypes.AttributeValueMemberS); ok {
			got = v.Value
		}
	}
	if got != "written on node 2" {
		t.Fatalf("node 3 read %q", got)
	}

	// A queue created on node 3 takes a message sent through node 1,
	// which node 2 receives.
	if _, err := nodes[2].SQS().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("clustered")}); err != nil {
		t.Fatalf("create queue through node 3: %v", err)
	}
	queueURL := func(n *alofttest.Server) string {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
			out, err := n.SQS().GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("clustered")})
			if err == nil {
				return aws.ToString(out.QueueUrl)
			}
			if time.Now().After(deadline) {
				t.Fatalf("queue url: %v", err)
			}
		}
	}
	if _, err := nodes[0].SQS().SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL(nodes[0])), MessageBody: aws.String("sent through node 1")}); err != nil {
		t.Fatalf("send through node 1: %v", err)
	}
	recv, err := nodes[1].SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL(nodes[1])), WaitTimeSeconds: 10})
	if err != nil || len(recv.Messages) != 1 || aws.ToString(recv.Messages[0].Body) != "sent through node 1" {
		t.Fatalf("receive through node 2: %+v, %v", recv, err)
	}

	// Every stream of the backbone has three replicas and a leader, as
	// `aloft cluster status` run against node 1 tells.
	var rep client.ClusterReport
	var under []string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		out, errOut, code := nodes[0].Run(ctx, nil, "cluster", "status", "--output", "json")
		if code != 0 {
			// A stream whose replicas are being raised has no leader
			// for a moment, and the listing waits for every leader.
			if time.Now().After(deadline) {
				t.Fatalf("aloft cluster status: exit %d: %s", code, errOut)
			}
			t.Logf("aloft cluster status: exit %d: %s", code, errOut)
			continue
		}
		rep = client.ClusterReport{}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Cluster == nil {
			t.Fatalf("aloft cluster status printed %q (%v)", out, err)
		}
		under = nil
		for _, s := range rep.Streams {
			if s.Replicas != 3 || s.Leader == "" {
				under = append(under, fmt.Sprintf("%s:R%d(leader %q)", s.Name, s.Replicas, s.Leader))
			}
		}
		if len(rep.Streams) > 0 && len(under) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("streams not replicated three times: %v", under)
		}
	}
	var kv, obj bool
	for _, s := range rep.Streams {
		kv = kv || strings.HasPrefix(s.Name, "KV_")
		obj = obj || strings.HasPrefix(s.Name, "OBJ_")
	}
	if !kv || !obj || len(rep.Streams) < 5 {
		t.Fatalf("cluster status lists %d streams (buckets %v, object stores %v)", len(rep.Streams), kv, obj)
	}
	table, errOut, code := nodes[0].Run(ctx, nil, "cluster", "status")
	if code != 0 || !strings.Contains(table, "Meta leader:  "+rep.Cluster.MetaLeader) || !strings.Contains(table, "node1 (this node)") ||
		!strings.Contains(table, "KV_") {
		t.Fatalf("aloft cluster status: exit %d\n%s%s", code, table, errOut)
	}
	t.Logf("aloft cluster status:\n%s", table)

	// A node with another secret does not join: the nodes refuse its
	// routes, it never has a quorum to serve, and the cluster stays
	// three.
	bad := filepath.Join(t.TempDir(), "bad.secret")
	const badSecret = "e2e-wrong-secret-0123456789abcdefghijklmnop"
	os.WriteFile(bad, []byte(badSecret), 0o600)
	dir := t.TempDir()
	cmd := exec.Command(alofttest.Binary(t), "server", "--data-dir", dir, "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0",
		"--cluster-listen", freeAddr(t), "--node-name", "intruder", "--peers", strings.Join(addrs, ","), "--cluster-secret-file", bad)
	cmd.Env = append(os.Environ(), "ALOFT_ACCESS_KEY_ID="+alofttest.AccessKeyID, "ALOFT_SECRET_ACCESS_KEY="+alofttest.SecretAccessKey,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var intruderLog strings.Builder
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			intruderLog.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
	}()
	defer func() {
		cmd.Process.Kill()
		<-logged
		cmd.Wait()
	}()
	refused := false
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		for i, n := range nodes {
			st, err := alofttest.ClusterHealth(n.URL)
			if err != nil || !alofttest.Formed(st, names) {
				t.Fatalf("node %d's health with the intruder about: %+v (%v)", i+1, st, err)
			}
			refused = refused || strings.Contains(n.Log(), "authentication error")
		}
	}
	mu.Lock()
	ilog := intruderLog.String()
	mu.Unlock()
	if strings.Contains(ilog, "aloft server ready") {
		t.Fatalf("the node with the wrong secret became ready:\n%s", ilog)
	}
	if !refused {
		t.Fatalf("no node logged refusing the intruder's routes; its log:\n%s", ilog)
	}
	for i, n := range nodes {
		if strings.Contains(n.Log(), alofttest.ClusterSecret) || strings.Contains(n.Log(), badSecret) {
			t.Fatalf("node %d logged a secret", i+1)
		}
	}
	if strings.Contains(ilog, badSecret) {
		t.Fatal("the intruder logged its secret")
	}

	// Nodes stop cleanly while a majority is left: the first, then the
	// second (with the third, still two of three). The last node alone
	// has no majority to write its final state with (its metrics), and
	// would exit 1 after SIGTERM: it is killed.
	nodes[0].Stop()
	nodes[1].Stop()
	nodes[2].Kill()
}

// TestClusterStatusAlone: a server started without --cluster-listen says
// it is no node of a cluster, /health keeps its fields alone, and the
// status endpoint takes only signed requests.
func TestClusterStatusAlone(t *testing.T) {
	srv := alofttest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, errOut, code := srv.Run(ctx, nil, "cluster", "status")
	if code != 0 || !strings.Contains(out, "no node of a cluster") {
		t.Fatalf("aloft cluster status: exit %d\n%s%s", code, out, errOut)
	}
	resp, err := http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || doc["status"] != "ok" || doc["sandbox"] == nil || doc["cluster"] != nil {
		t.Fatalf("health %v (%v)", doc, err)
	}
	resp, err = http.Get(srv.URL + client.ClusterPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned cluster status: %s", resp.Status)
	}
}
