package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"
)

func (e *env) tableCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "table",
		Aliases: []string{"tables"},
		Short:   "Create, list, describe and delete tables, and read and write their items",
		Long: `Tables keep items by key, as Amazon DynamoDB tables do; the AWS CLI
("aws dynamodb"), the SDKs and their helpers (boto3's Table, the JavaScript
document client) work with them too. A table's stream triggers functions
through an event source mapping.

Items are written and shown here as plain JSON: strings, numbers, true and
false, null, lists and objects.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(e.tableCreateCmd(), e.tableListCmd(), e.tableDescribeCmd(), e.tableDeleteCmd(), e.tableScanCmd(), e.tableGetCmd(), e.tablePutCmd())
	return cmd
}

// tableError rewrites the DynamoDB errors about table name into short
// messages.
func tableError(err error, name string) error {
	switch apiCode(err) {
	case "ResourceNotFoundException":
		return fmt.Errorf("table %q not found", name)
	case "ResourceInUseException":
		return fmt.Errorf("table %q already exists", name)
	}
	return err
}

// keyFlag reads NAME:TYPE (TYPE S, N or B; S when left out).
func keyFlag(cmd *cobra.Command, flag, v string) (string, types.ScalarAttributeType, error) {
	name, typ, _ := strings.Cut(v, ":")
	if typ == "" {
		typ = "S"
	}
	if name == "" || (typ != "S" && typ != "N" && typ != "B") {
		return "", "", usageErrorf(cmd, "--%s %q is not NAME or NAME:TYPE with TYPE S, N or B", flag, v)
	}
	return name, types.ScalarAttributeType(typ), nil
}

func (e *env) tableCreateCmd() *cobra.Command {
	var key, sort, stream, ttl string
	var indexes []string
	cmd := &cobra.Command{
		Use:   "create TABLE",
		Short: "Create a table (billed per request)",
		Example: `  aloft table create notes --key id
  aloft table create orders --key customer --sort created:N --stream NEW_AND_OLD_IMAGES
  aloft table create scores --key user --sort game --index byGame=game,score:N --ttl expires`,
		Args: exactArgs("table name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			attrs := map[string]types.ScalarAttributeType{}
			schema := func(flag string, specs ...string) ([]types.KeySchemaElement, error) {
				var out []types.KeySchemaElement
				for i, spec := range specs {
					name, typ, err := keyFlag(cmd, flag, spec)
					if err != nil {
						return nil, err
					}
					if t, ok := attrs[name]; ok && t != typ {
						return nil, usageErrorf(cmd, "attribute %s is given two types", name)
					}
					attrs[name] = typ
					kt := types.KeyTypeHash
					if i == 1 {
						kt = types.KeyTypeRange
					}
					out = append(out, types.KeySchemaElement{AttributeName: aws.String(name), KeyType: kt})
				}
				return out, nil
			}
			if key == "" {
				return usageErrorf(cmd, "missing --key")
			}
			specs := []string{key}
			if sort != "" {
				specs = append(specs, sort)
			}
			in := &dynamodb.CreateTableInput{TableName: aws.String(args[0]), BillingMode: types.BillingModePayPerRequest}
			var err error
			if in.KeySchema, err = schema("key", specs...); err != nil {
				return err
			}
			for _, ix := range indexes {
				name, keys, ok := strings.Cut(ix, "=")
				parts := strings.Split(keys, ",")
				if !ok || name == "" || len(parts) > 2 {
					return usageErrorf(cmd, "--index %q is not NAME=KEY[:TYPE][,SORT[:TYPE]]", ix)
				}
				ks, err := schema("index", parts...)
				if err != nil {
					return err
				}
				in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{IndexName: aws.String(name), KeySchema: ks,
					Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}})
			}
			names := make([]string, 0, len(attrs))
			for n := range attrs {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: attrs[n]})
			}
			if stream != "" {
				in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(stream)}
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			db := c.DynamoDB()
			out, err := db.CreateTable(cmd.Context(), in)
			if err != nil {
				return tableError(err, args[0])
			}
			if ttl != "" {
				if _, err := db.UpdateTimeToLive(cmd.Context(), &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(args[0]),
					TimeToLiveSpecification: &types.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: aws.String(ttl)}}); err != nil {
					return fmt.Errorf("time to live: %w", err)
				}
			}
			fmt.Fprintf(e.stdout, "created table %s\n%s\n", args[0], aws.ToString(out.TableDescription.TableArn))
			if s := aws.ToString(out.TableDescription.LatestStreamArn); s != "" {
				fmt.Fprintf(e.stdout, "stream %s\n", s)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the partition key, NAME[:TYPE] (TYPE S, N or B; S by default)")
	cmd.Flags().StringVar(&sort, "sort", "", "the sort key, NAME[:TYPE]")
	cmd.Flags().StringVar(&stream, "stream", "", "a stream of changes: KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES")
	cmd.Flags().StringArrayVar(&indexes, "index", nil, "a global secondary index of every attribute, NAME=KEY[:TYPE][,SORT[:TYPE]] (repeatable)")
	cmd.Flags().StringVar(&ttl, "ttl", "", "the attribute holding each item's expiry, in Unix seconds")
	return cmd
}

func (e *env) tableListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List tables with their keys, items and size",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			db := c.DynamoDB()
			var list []*types.TableDescription
			p := dynamodb.NewListTablesPaginator(db, &dynamodb.ListTablesInput{})
			for p.HasMorePages() {
				page, err := p.NextPage(cmd.Context())
				if err != nil {
					return err
				}
				for _, n := range page.TableNames {
					d, err := db.DescribeTable(cmd.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(n)})
					if err != nil {
						continue // deleted meanwhile
					}
					list = append(list, d.Table)
				}
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, map[string]any{"Tables": list})
			}
			t := newTable(e.stdout, 5, 3, 4)
			t.AppendHeader(tableRow("TABLE", "KEY", "ITEMS", "SIZE", "STREAM"))
			for _, d := range list {
				stream := ""
				if d.StreamSpecification != nil && aws.ToBool(d.StreamSpecification.StreamEnabled) {
					stream = string(d.StreamSpecification.StreamViewType)
				}
				t.AppendRow(tableRow(aws.ToString(d.TableName), keySchema(d.KeySchema, d.AttributeDefinitions), groupDigits(aws.ToInt64(d.ItemCount)),
					humanBytes(aws.ToInt64(d.TableSizeBytes)), stream))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

// keySchema writes a key schema as "pk:S, sk:N".
func keySchema(ks []types.KeySchemaElement, defs []types.AttributeDefinition) string {
	var parts []string
	for _, k := range ks {
		typ := ""
		for _, d := range defs {
			if aws.ToString(d.AttributeName) == aws.ToString(k.AttributeName) {
				typ = ":" + string(d.AttributeType)
			}
		}
		parts = append(parts, aws.ToString(k.AttributeName)+typ)
	}
	return strings.Join(parts, ", ")
}

// humanBytes writes a size in bytes, KiB, MiB or GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/unit, 0
	for f >= unit && i < 2 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%s %s", trimFloat(f, 1, 0), []string{"KiB", "MiB", "GiB"}[i])
}

func (e *env) tableDescribeCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "describe TABLE",
		Short: "Show a table's keys, indexes, stream, time to live, items and size",
		Args:  exactArgs("table name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			db := c.DynamoDB()
			d, err := db.DescribeTable(cmd.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(args[0])})
			if err != nil {
				return tableError(err, args[0])
			}
			ttl, err := db.DescribeTimeToLive(cmd.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(args[0])})
			if err != nil {
				return tableError(err, args[0])
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, map[string]any{"Table": d.Table, "TimeToLiveDescription": ttl.TimeToLiveDescription})
			}
			t := d.Table
			fields := []field{{"Table", aws.ToString(t.TableName)}, {"ARN", aws.ToString(t.TableArn)}, {"Status", string(t.TableStatus)},
				{"Key", keySchema(t.KeySchema, t.AttributeDefinitions)}, {"Items", groupDigits(aws.ToInt64(t.ItemCount))},
				{"Size", humanBytes(aws.ToInt64(t.TableSizeBytes))}}
			for _, g := range t.GlobalSecondaryIndexes {
				fields = append(fields, field{"Global index", fmt.Sprintf("%s (%s; %s; %s items)", aws.ToString(g.IndexName), keySchema(g.KeySchema, t.AttributeDefinitions),
					g.Projection.ProjectionType, groupDigits(aws.ToInt64(g.ItemCount)))})
			}
			for _, l := range t.LocalSecondaryIndexes {
				fields = append(fields, field{"Local index", fmt.Sprintf("%s (%s; %s; %s items)", aws.ToString(l.IndexName), keySchema(l.KeySchema, t.AttributeDefinitions),
					l.Projection.ProjectionType, groupDigits(aws.ToInt64(l.ItemCount)))})
			}
			if t.StreamSpecification != nil && aws.ToBool(t.StreamSpecification.StreamEnabled) {
				fields = append(fields, field{"Stream", fmt.Sprintf("%s (%s)", aws.ToString(t.LatestStreamArn), t.StreamSpecification.StreamViewType)})
			}
			if d := ttl.TimeToLiveDescription; d != nil && d.TimeToLiveStatus == types.TimeToLiveStatusEnabled {
				fields = append(fields, field{"Time to live", aws.ToString(d.AttributeName)})
			}
			writeDetails(e.stdout, fields)
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) tableDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete TABLE",
		Short: "Delete a table and its items",
		Args:  exactArgs("table name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			if _, err := c.DynamoDB().DeleteTable(cmd.Context(), &dynamodb.DeleteTableInput{TableName: aws.String(args[0])}); err != nil {
				return tableError(err, args[0])
			}
			fmt.Fprintf(e.stdout, "deleted table %s\n", args[0])
			return nil
		},
	}
}

func (e *env) tableScanCmd() *cobra.Command {
	var out *outputFormat
	var limit int32
	var index string
	cmd := &cobra.Command{
		Use:   "scan TABLE",
		Short: "Show a table's items (or an index's), keys first",
		Example: `  aloft table scan notes
  aloft table scan scores --index byGame --limit 10
  aloft table scan notes -o json`,
		Args: exactArgs("table name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			db := c.DynamoDB()
			d, err := db.DescribeTable(cmd.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(args[0])})
			if err != nil {
				return tableError(err, args[0])
			}
			in := &dynamodb.ScanInput{TableName: aws.String(args[0])}
			if index != "" {
				in.IndexName = aws.String(index)
			}
			var items []map[string]types.AttributeValue
			p := dynamodb.NewScanPaginator(db, in)
			for p.HasMorePages() && (limit == 0 || int32(len(items)) < limit) {
				page, err := p.NextPage(cmd.Context())
				if err != nil {
					return tableError(err, args[0])
				}
				items = append(items, page.Items...)
			}
			if limit > 0 && int32(len(items)) > limit {
				items = items[:limit]
			}
			plain := make([]map[string]any, len(items))
			for i, it := range items {
				plain[i] = plainItem(it)
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, map[string]any{"Items": plain, "Count": len(plain)})
			}
			var keys []string
			for _, k := range d.Table.KeySchema {
				keys = append(keys, aws.ToString(k.AttributeName))
			}
			writeItems(e, keys, plain)
			return nil
		},
	}
	cmd.Flags().Int32Var(&limit, "limit", 0, "show at most this many items")
	cmd.Flags().StringVar(&index, "index", "", "scan this secondary index instead")
	out = addOutputFlag(cmd)
	return cmd
}

// writeItems prints items as a table: the key attributes first, then the
// others in name order.
func writeItems(e *env, keys []string, items []map[string]any) {
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
	}
	var rest []string
	for _, it := range items {
		for a := range it {
			if !seen[a] {
				seen[a] = true
				rest = append(rest, a)
			}
		}
	}
	slices.Sort(rest)
	cols := append(slices.Clone(keys), rest...)
	t := newTable(e.stdout, len(cols))
	header := make([]any, len(cols))
	for i, c := range cols {
		header[i] = strings.ToUpper(c)
	}
	t.AppendHeader(tableRow(header...))
	for _, it := range items {
		row := make([]any, len(cols))
		for i, c := range cols {
			row[i] = cell(it[c], c, it)
		}
		t.AppendRow(tableRow(row...))
	}
	t.Render()
	fmt.Fprintf(e.stdout, "%d items\n", len(items))
}

// cell writes one value for a table: text as is, the rest as JSON.
func cell(v any, name string, it map[string]any) string {
	if _, ok := it[name]; !ok {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (e *env) tableGetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get TABLE KEY=VALUE [SORTKEY=VALUE]",
		Short: "Show one item, found by its key",
		Example: `  aloft table get notes id=n1
  aloft table get orders customer=ada created=1733400000`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 || len(args) > 3 {
				return usageErrorf(cmd, "give the table and its key's values, NAME=VALUE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			db := c.DynamoDB()
			d, err := db.DescribeTable(cmd.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(args[0])})
			if err != nil {
				return tableError(err, args[0])
			}
			key := map[string]types.AttributeValue{}
			for _, kv := range args[1:] {
				name, val, ok := strings.Cut(kv, "=")
				if !ok {
					return usageErrorf(cmd, "%q is not NAME=VALUE", kv)
				}
				typ := types.ScalarAttributeType("")
				for _, a := range d.Table.AttributeDefinitions {
					if aws.ToString(a.AttributeName) == name {
						typ = a.AttributeType
					}
				}
				switch typ {
				case types.ScalarAttributeTypeS:
					key[name] = &types.AttributeValueMemberS{Value: val}
				case types.ScalarAttributeTypeN:
					key[name] = &types.AttributeValueMemberN{Value: val}
				case types.ScalarAttributeTypeB:
					b, err := base64.StdEncoding.DecodeString(val)
					if err != nil {
						return usageErrorf(cmd, "%s is binary: give its value in base64", name)
					}
					key[name] = &types.AttributeValueMemberB{Value: b}
				default:
					return usageErrorf(cmd, "%s is not a key attribute of table %s (its key is %s)", name, args[0], keySchema(d.Table.KeySchema, d.Table.AttributeDefinitions))
				}
			}
			got, err := db.GetItem(cmd.Context(), &dynamodb.GetItemInput{TableName: aws.String(args[0]), Key: key, ConsistentRead: aws.Bool(true)})
			if err != nil {
				return tableError(err, args[0])
			}
			if got.Item == nil {
				return fmt.Errorf("no item with key %s in table %s", strings.Join(args[1:], " "), args[0])
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			enc.Encode(plainItem(got.Item))
			_, err = e.stdout.Write(buf.Bytes())
			return err
		},
	}
	return cmd
}

func (e *env) tablePutCmd() *cobra.Command {
	var ifNew bool
	cmd := &cobra.Command{
		Use:   "put TABLE ITEM",
		Short: "Store an item, given as plain JSON, replacing any with its key",
		Example: `  aloft table put notes '{"id": "n1", "text": "buy milk", "done": false}'
  aloft table put notes '{"id": "n1", "text": "again"}' --if-new`,
		Args: exactArgs("table name", "item"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dec := json.NewDecoder(strings.NewReader(args[1]))
			dec.UseNumber()
			var raw any
			if err := dec.Decode(&raw); err != nil {
				return usageErrorf(cmd, "the item is not JSON: %v", err)
			}
			obj, ok := raw.(map[string]any)
			if !ok {
				return usageErrorf(cmd, "the item is not a JSON object")
			}
			it := map[string]types.AttributeValue{}
			for k, v := range obj {
				it[k] = attributeValue(v)
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			db := c.DynamoDB()
			in := &dynamodb.PutItemInput{TableName: aws.String(args[0]), Item: it}
			if ifNew {
				d, err := db.DescribeTable(cmd.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(args[0])})
				if err != nil {
					return tableError(err, args[0])
				}
				in.ConditionExpression = aws.String("attribute_not_exists(#k)")
				in.ExpressionAttributeNames = map[string]string{"#k": aws.ToString(d.Table.KeySchema[0].AttributeName)}
			}
			if _, err := db.PutItem(cmd.Context(), in); err != nil {
				if apiCode(err) == "ConditionalCheckFailedException" {
					return fmt.Errorf("an item with this key is already in table %s", args[0])
				}
				return tableError(err, args[0])
			}
			fmt.Fprintf(e.stdout, "stored the item in %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&ifNew, "if-new", false, "store it only if no item has its key")
	return cmd
}

// attributeValue is a plain JSON value (decoded with UseNumber) as an
// attribute value.
func attributeValue(v any) types.AttributeValue {
	switch x := v.(type) {
	case string:
		return &types.AttributeValueMemberS{Value: x}
	case json.Number:
		return &types.AttributeValueMemberN{Value: x.String()}
	case bool:
		return &types.AttributeValueMemberBOOL{Value: x}
	case []any:
		l := make([]types.AttributeValue, len(x))
		for i, e := range x {
			l[i] = attributeValue(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	case map[string]any:
		m := make(map[string]types.AttributeValue, len(x))
		for k, e := range x {
			m[k] = attributeValue(e)
		}
		return &types.AttributeValueMemberM{Value: m}
	}
	return &types.AttributeValueMemberNULL{Value: true}
}

// plainItem is an item as plain JSON values: numbers keep their digits,
// binary is base64, sets are lists.
func plainItem(it map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(it))
	for k, v := range it {
		out[k] = plainValue(v)
	}
	return out
}

func plainValue(v types.AttributeValue) any {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return x.Value
	case *types.AttributeValueMemberN:
		return json.Number(x.Value)
	case *types.AttributeValueMemberB:
		return base64.StdEncoding.EncodeToString(x.Value)
	case *types.AttributeValueMemberBOOL:
		return x.Value
	case *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberSS:
		return x.Value
	case *types.AttributeValueMemberNS:
		out := make([]json.Number, len(x.Value))
		for i, n := range x.Value {
			out[i] = json.Number(n)
		}
		return out
	case *types.AttributeValueMemberBS:
		out := make([]string, len(x.Value))
		for i, b := range x.Value {
			out[i] = base64.StdEncoding.EncodeToString(b)
		}
		return out
	case *types.AttributeValueMemberL:
		out := make([]any, len(x.Value))
		for i, e := range x.Value {
			out[i] = plainValue(e)
		}
		return out
	case *types.AttributeValueMemberM:
		return plainItem(x.Value)
	}
	return nil
}
