package dynamoapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/itemexpr"
	"github.com/aloft-dev/aloft/internal/tables"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func minString(s []string) string {
	slices.Sort(s)
	return s[0]
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type createTableIn struct {
	TableName                 string                       `json:"TableName"`
	KeySchema                 []tables.KeyElement          `json:"KeySchema"`
	AttributeDefinitions      []tables.AttributeDefinition `json:"AttributeDefinitions"`
	BillingMode               string                       `json:"BillingMode"`
	ProvisionedThroughput     *tables.Throughput           `json:"ProvisionedThroughput"`
	Tags                      []tag                        `json:"Tags"`
	DeletionProtectionEnabled bool                         `json:"DeletionProtectionEnabled"`
	GlobalSecondaryIndexes    []indexIn                    `json:"GlobalSecondaryIndexes"`
	LocalSecondaryIndexes     []indexIn                    `json:"LocalSecondaryIndexes"`
	StreamSpecification       *streamSpec                  `json:"StreamSpecification"`
	SSESpecification          map[string]any               `json:"SSESpecification"`
	TableClass                string                       `json:"TableClass"`
	OnDemandThroughput        map[string]any               `json:"OnDemandThroughput"`
	WarmThroughput            map[string]any               `json:"WarmThroughput"`
	ResourcePolicy            string                       `json:"ResourcePolicy"`
}

type tableOut struct {
	Table map[string]any `json:"Table,omitempty"`
}

// indexIn is a secondary index as CreateTable and UpdateTable give it.
type indexIn struct {
	IndexName             string              `json:"IndexName"`
	KeySchema             []tables.KeyElement `json:"KeySchema"`
	Projection            *tables.Projection  `json:"Projection"`
	ProvisionedThroughput *tables.Throughput  `json:"ProvisionedThroughput"`
	OnDemandThroughput    map[string]any      `json:"OnDemandThroughput"`
	WarmThroughput        map[string]any      `json:"WarmThroughput"`
}

// def is the index in.
func (in *indexIn) def(global bool) (tables.SecondaryIndex, error) {
	x := tables.SecondaryIndex{Name: in.IndexName, Global: global, KeySchema: in.KeySchema, Throughput: in.ProvisionedThroughput}
	if in.OnDemandThroughput != nil || in.WarmThroughput != nil {
		return x, validation("OnDemandThroughput and WarmThroughput of indexes are not available here.")
	}
	if in.Projection == nil {
		return x, validation("One or more parameter values were invalid: Projection must be specified for index: %s", in.IndexName)
	}
	x.Projection = *in.Projection
	return x, nil
}

// describeIndexes adds a table's secondary indexes to its description.
func describeIndexes(out map[string]any, d *tables.Def, stats map[string]tables.IndexStats) {
	var global, local []map[string]any
	for i := range d.Indexes {
		x := &d.Indexes[i]
		st := stats[x.Name]
		desc := map[string]any{"IndexName": x.Name, "KeySchema": x.KeySchema, "Projection": x.Projection,
			"IndexSizeBytes": st.Size, "ItemCount": st.Count, "IndexArn": x.ARN(d)}
		if !x.Global {
			local = append(local, desc)
			continue
		}
		desc["IndexStatus"] = "ACTIVE"
		pt := map[string]any{"ReadCapacityUnits": 0, "WriteCapacityUnits": 0, "NumberOfDecreasesToday": 0}
		if x.Throughput != nil {
			pt["ReadCapacityUnits"], pt["WriteCapacityUnits"] = x.Throughput.ReadCapacityUnits, x.Throughput.WriteCapacityUnits
		}
		desc["ProvisionedThroughput"] = pt
		global = append(global, desc)
	}
	if global != nil {
		out["GlobalSecondaryIndexes"] = global
	}
	if local != nil {
		out["LocalSecondaryIndexes"] = local
	}
}

// describe is a table's description as DynamoDB writes it.
func describe(d *tables.Def, count, size int, status string, stats map[string]tables.IndexStats) map[string]any {
	out := map[string]any{
		"TableName": d.Name, "TableArn": d.ARN(), "TableId": d.ID, "TableStatus": status, "KeySchema": d.KeySchema,
		"AttributeDefinitions": d.AttributeDefinitions, "CreationDateTime": d.Created, "ItemCount": count, "TableSizeBytes": size,
		"DeletionProtectionEnabled": d.DeletionProtection,
	}
	pt := map[string]any{"ReadCapacityUnits": 0, "WriteCapacityUnits": 0, "NumberOfDecreasesToday": 0}
	if d.Throughput != nil {
		pt["ReadCapacityUnits"], pt["WriteCapacityUnits"] = d.Throughput.ReadCapacityUnits, d.Throughput.WriteCapacityUnits
	}
	out["ProvisionedThroughput"] = pt
	if d.Stream != nil {
		out["LatestStreamArn"], out["LatestStreamLabel"] = d.StreamARN(), d.Stream.Label
		if d.Stream.Enabled {
			out["StreamSpecification"] = map[string]any{"StreamEnabled": true, "StreamViewType": d.Stream.ViewType}
		}
	}
	describeIndexes(out, d, stats)
	if d.BillingMode == "PAY_PER_REQUEST" {
		out["BillingModeSummary"] = map[string]any{"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": d.Created}
	}
	return out
}

type createTableOut struct {
	TableDescription map[string]any `json:"TableDescription"`
}

func (s *Server) createTable(ctx context.Context, in *createTableIn) (*createTableOut, error) {
	for name, set := range map[string]bool{"SSESpecification": in.SSESpecification != nil, "OnDemandThroughput": in.OnDemandThroughput != nil,
		"WarmThroughput": in.WarmThroughput != nil, "ResourcePolicy": in.ResourcePolicy != ""} {
		if set {
			return nil, validation("%s is not available here yet.", name)
		}
	}
	if in.TableClass != "" && in.TableClass != "STANDARD" {
		return nil, validation("TableClass %s is not available here.", in.TableClass)
	}
	def := tables.Def{Name: in.TableName, Region: region(ctx), KeySchema: in.KeySchema, AttributeDefinitions: in.AttributeDefinitions,
		BillingMode: in.BillingMode, Throughput: in.ProvisionedThroughput, DeletionProtection: in.DeletionProtectionEnabled}
	for i, list := range [][]indexIn{in.GlobalSecondaryIndexes, in.LocalSecondaryIndexes} {
		for _, x := range list {
			sx, err := x.def(i == 0)
			if err != nil {
				return nil, err
			}
			def.Indexes = append(def.Indexes, sx)
		}
	}
	if sp := in.StreamSpecification; sp != nil {
		if err := sp.check(); err != nil {
			return nil, err
		}
		if sp.StreamEnabled {
			def.Stream = &tables.StreamSpec{ViewType: sp.StreamViewType}
		}
	}
	if len(in.Tags) > 0 {
		def.Tags = map[string]string{}
		for _, t := range in.Tags {
			def.Tags[t.Key] = t.Value
		}
	}
	d, err := s.t.CreateTable(ctx, def)
	if err != nil {
		return nil, err
	}
	return &createTableOut{describe(d, 0, 0, "ACTIVE", nil)}, nil
}

// streamSpec is a table's StreamSpecification.
type streamSpec struct {
	StreamEnabled  bool   `json:"StreamEnabled"`
	StreamViewType string `json:"StreamViewType"`
}

func (sp *streamSpec) check() error {
	if sp.StreamEnabled && sp.StreamViewType == "" {
		return validation("One or more parameter values were invalid: StreamViewType is required when StreamEnabled is true")
	}
	if !sp.StreamEnabled && sp.StreamViewType != "" {
		return validation("One or more parameter values were invalid: Disabled stream specification must not have StreamViewType")
	}
	return nil
}

// indexUpdate is one of UpdateTable's GlobalSecondaryIndexUpdates.
type indexUpdate struct {
	Create *indexIn `json:"Create"`
	Update *indexIn `json:"Update"`
	Delete *indexIn `json:"Delete"`
}

// updateTable changes a table's stream, billing, throughput, deletion
// protection and global secondary indexes.
func (s *Server) updateTable(ctx context.Context, in *struct {
	TableName                   string                       `json:"TableName"`
	StreamSpecification         *streamSpec                  `json:"StreamSpecification"`
	BillingMode                 string                       `json:"BillingMode"`
	ProvisionedThroughput       *tables.Throughput           `json:"ProvisionedThroughput"`
	GlobalSecondaryIndexUpdates []indexUpdate                `json:"GlobalSecondaryIndexUpdates"`
	AttributeDefinitions        []tables.AttributeDefinition `json:"AttributeDefinitions"`
	DeletionProtectionEnabled   *bool                        `json:"DeletionProtectionEnabled"`
	SSESpecification            map[string]any               `json:"SSESpecification"`
	TableClass                  string                       `json:"TableClass"`
	ReplicaUpdates              []any                        `json:"ReplicaUpdates"`
	OnDemandThroughput          map[string]any               `json:"OnDemandThroughput"`
	WarmThroughput              map[string]any               `json:"WarmThroughput"`
}) (*struct {
	TableDescription map[string]any `json:"TableDescription"`
}, error) {
	if in.SSESpecification != nil || in.ReplicaUpdates != nil || in.OnDemandThroughput != nil || in.WarmThroughput != nil || (in.TableClass != "" && in.TableClass != "STANDARD") {
		return nil, validation("UpdateTable's SSESpecification, ReplicaUpdates, OnDemandThroughput, WarmThroughput and TableClass are not available here.")
	}
	u := tables.Update{BillingMode: in.BillingMode, Throughput: in.ProvisionedThroughput, DeletionProtection: in.DeletionProtectionEnabled,
		AttributeDefinitions: in.AttributeDefinitions}
	if in.StreamSpecification != nil {
		if err := in.StreamSpecification.check(); err != nil {
			return nil, err
		}
		u.Stream = &tables.StreamChange{Enabled: in.StreamSpecification.StreamEnabled, ViewType: in.StreamSpecification.StreamViewType}
	}
	for _, g := range in.GlobalSecondaryIndexUpdates {
		switch {
		case g.Create != nil && g.Update == nil && g.Delete == nil:
			if u.CreateIndex != nil {
				return nil, &tables.Error{Kind: fault.Throttled, Type: "LimitExceededException", Message: "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"}
			}
			x, err := g.Create.def(true)
			if err != nil {
				return nil, err
			}
			u.CreateIndex = &x
		case g.Delete != nil && g.Create == nil && g.Update == nil:
			if u.DeleteIndex != "" {
				return nil, &tables.Error{Kind: fault.Throttled, Type: "LimitExceededException", Message: "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"}
			}
			u.DeleteIndex = g.Delete.IndexName
		case g.Update != nil && g.Create == nil && g.Delete == nil:
			if g.Update.ProvisionedThroughput == nil {
				return nil, validation("One or more parameter values were invalid: ProvisionedThroughput must be specified for index: %s", g.Update.IndexName)
			}
			if u.IndexThroughput == nil {
				u.IndexThroughput = map[string]*tables.Throughput{}
			}
			u.IndexThroughput[g.Update.IndexName] = g.Update.ProvisionedThroughput
		default:
			return nil, validation("One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null")
		}
	}
	if len(in.AttributeDefinitions) > 0 && u.CreateIndex == nil {
		return nil, validation("One or more parameter values were invalid: Table AttributeDefinitions can only be given with a GlobalSecondaryIndexUpdates Create action")
	}
	if u.Stream == nil && u.BillingMode == "" && u.Throughput == nil && u.DeletionProtection == nil && u.CreateIndex == nil && u.DeleteIndex == "" && u.IndexThroughput == nil {
		return nil, validation("At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required")
	}
	d, err := s.t.Update(ctx, tables.TableName(in.TableName), u)
	if err != nil {
		return nil, err
	}
	_, n, size, _ := s.t.Describe(d.Name)
	return &struct {
		TableDescription map[string]any `json:"TableDescription"`
	}{describe(d, n, size, "ACTIVE", s.t.IndexStats(d.Name))}, nil
}

type tableIn struct {
	TableName string `json:"TableName"`
}

func (s *Server) describeTable(ctx context.Context, in *tableIn) (*tableOut, error) {
	d, n, size, err := s.t.Describe(tables.TableName(in.TableName))
	if err != nil {
		return nil, err
	}
	return &tableOut{describe(d, n, size, "ACTIVE", s.t.IndexStats(d.Name))}, nil
}

func (s *Server) deleteTable(ctx context.Context, in *tableIn) (*struct {
	TableDescription map[string]any `json:"TableDescription"`
}, error) {
	d, err := s.t.DeleteTable(ctx, tables.TableName(in.TableName))
	if err != nil {
		return nil, err
	}
	return &struct {
		TableDescription map[string]any `json:"TableDescription"`
	}{describe(d, 0, 0, "DELETING", nil)}, nil
}

type listTablesIn struct {
	ExclusiveStartTableName string `json:"ExclusiveStartTableName"`
	Limit                   *int   `json:"Limit"`
}

type listTablesOut struct {
	TableNames             []string `json:"TableNames"`
	LastEvaluatedTableName string   `json:"LastEvaluatedTableName,omitempty"`
}

func (s *Server) listTables(ctx context.Context, in *listTablesIn) (*listTablesOut, error) {
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 100 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100", *in.Limit)
		}
		limit = *in.Limit
	}
	names := s.t.List()
	out := &listTablesOut{TableNames: []string{}}
	for _, n := range names {
		if n <= in.ExclusiveStartTableName {
			continue
		}
		if len(out.TableNames) == limit {
			out.LastEvaluatedTableName = out.TableNames[limit-1]
			break
		}
		out.TableNames = append(out.TableNames, n)
	}
	return out, nil
}

type writeIn struct {
	TableName                           string    `json:"TableName"`
	Item                                item.Item `json:"Item"`
	Key                                 item.Item `json:"Key"`
	ConditionExpression                 *string   `json:"ConditionExpression"`
	UpdateExpression                    *string   `json:"UpdateExpression"`
	ReturnValues                        string    `json:"ReturnValues"`
	ReturnValuesOnConditionCheckFailure string    `json:"ReturnValuesOnConditionCheckFailure"`
	exprs
}

type writeOut struct {
	Attributes       item.Item      `json:"Attributes,omitempty"`
	ConsumedCapacity map[string]any `json:"ConsumedCapacity,omitempty"`
}

// prepare checks a write's common parameters and parses its condition.
func (in *writeIn) prepare(update bool, allowed ...string) (tables.Condition, error) {
	var c tables.Condition
	var upd **string
	if update {
		upd = &in.UpdateExpression
	}
	if err := in.exprs.legacy(&in.ConditionExpression, nil, nil, upd, nil); err != nil {
		return c, err
	}
	if err := in.exprs.check(); err != nil {
		return c, err
	}
	if in.ReturnValues != "" && in.ReturnValues != "NONE" && !slices.Contains(allowed, in.ReturnValues) {
		return c, validation("ReturnValues can only be ALL_OLD or NONE")
	}
	switch in.ReturnValuesOnConditionCheckFailure {
	case "", "NONE":
	case "ALL_OLD":
		c.ReturnItem = true
	default:
		return c, validation("1 validation error detected: Value '%s' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]", in.ReturnValuesOnConditionCheckFailure)
	}
	var err error
	c.Expr, err = in.condition("ConditionExpression", in.ConditionExpression)
	return c, err
}

func (s *Server) putItem(ctx context.Context, in *writeIn) (*writeOut, error) {
	if in.Item == nil {
		return nil, validation("1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null")
	}
	c, err := in.prepare(false, "ALL_OLD")
	if err != nil {
		return nil, err
	}
	if err := in.params.Unused(); err != nil {
		return nil, err
	}
	old, err := s.t.PutItem(ctx, in.TableName, in.Item, c)
	if err != nil {
		return nil, err
	}
	out := &writeOut{ConsumedCapacity: in.capacity(in.TableName, max(in.Item.Size(), old.Size()), true, true)}
	if in.ReturnValues == "ALL_OLD" {
		out.Attributes = old
	}
	return out, nil
}

func (s *Server) deleteItem(ctx context.Context, in *writeIn) (*writeOut, error) {
	c, err := in.prepare(false, "ALL_OLD")
	if err != nil {
		return nil, err
	}
	if err := in.params.Unused(); err != nil {
		return nil, err
	}
	old, err := s.t.DeleteItem(ctx, in.TableName, in.Key, c)
	if err != nil {
		return nil, err
	}
	out := &writeOut{ConsumedCapacity: in.capacity(in.TableName, old.Size(), true, true)}
	if in.ReturnValues == "ALL_OLD" {
		out.Attributes = old
	}
	return out, nil
}

func (s *Server) updateItem(ctx context.Context, in *writeIn) (*writeOut, error) {
	c, err := in.prepare(true, "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW")
	if err != nil {
		return nil, err
	}
	var u *itemexpr.Update
	if in.UpdateExpression != nil {
		if u, err = itemexpr.ParseUpdate(*in.UpdateExpression, in.params); err != nil {
			return nil, err
		}
	}
	if err := in.params.Unused(); err != nil {
		return nil, err
	}
	old, now, err := s.t.UpdateItem(ctx, in.TableName, in.Key, u, c)
	if err != nil {
		return nil, err
	}
	out := &writeOut{ConsumedCapacity: in.capacity(in.TableName, max(now.Size(), old.Size()), true, true)}
	switch in.ReturnValues {
	case "ALL_OLD":
		out.Attributes = old
	case "ALL_NEW":
		out.Attributes = now
	case "UPDATED_OLD", "UPDATED_NEW":
		src := old
		if in.ReturnValues == "UPDATED_NEW" {
			src = now
		}
		out.Attributes = item.Item{}
		for _, p := range u.Paths() {
			if v := src[p[0].Name]; v != nil {
				out.Attributes[p[0].Name] = v
			}
		}
		if len(out.Attributes) == 0 {
			out.Attributes = nil
		}
	}
	return out, nil
}

type getIn struct {
	TableName            string    `json:"TableName"`
	Key                  item.Item `json:"Key"`
	ConsistentRead       bool      `json:"ConsistentRead"`
	ProjectionExpression *string   `json:"ProjectionExpression"`
	exprs
}

type getOut struct {
	Item             item.Item      `json:"Item,omitempty"`
	ConsumedCapacity map[string]any `json:"ConsumedCapacity,omitempty"`
}

func (s *Server) getItem(ctx context.Context, in *getIn) (*getOut, error) {
	if err := in.exprs.legacy(nil, nil, nil, nil, &in.ProjectionExpression); err != nil {
		return nil, err
	}
	if err := in.exprs.check(); err != nil {
		return nil, err
	}
	paths, err := in.projection(in.ProjectionExpression)
	if err != nil {
		return nil, err
	}
	if err := in.params.Unused(); err != nil {
		return nil, err
	}
	it, err := s.t.GetItem(ctx, in.TableName, in.Key, in.ConsistentRead)
	if err != nil {
		return nil, err
	}
	out := &getOut{Item: it, ConsumedCapacity: in.capacity(in.TableName, it.Size(), false, in.ConsistentRead)}
	if it != nil && paths != nil {
		out.Item = itemexpr.Project(it, paths)
	}
	return out, nil
}

type readIn struct {
	TableName              string    `json:"TableName"`
	IndexName              string    `json:"IndexName"`
	KeyConditionExpression *string   `json:"KeyConditionExpression"`
	FilterExpression       *string   `json:"FilterExpression"`
	ProjectionExpression   *string   `json:"ProjectionExpression"`
	ScanIndexForward       *bool     `json:"ScanIndexForward"`
	Limit                  *int      `json:"Limit"`
	ExclusiveStartKey      item.Item `json:"ExclusiveStartKey"`
	ConsistentRead         bool      `json:"ConsistentRead"`
	Select                 string    `json:"Select"`
	Segment                *int      `json:"Segment"`
	TotalSegments          *int      `json:"TotalSegments"`
	exprs
}

type readOut struct {
	Items            *[]item.Item   `json:"Items,omitempty"` // [] when none match; left out for Select COUNT
	Count            int            `json:"Count"`
	ScannedCount     int            `json:"ScannedCount"`
	LastEvaluatedKey item.Item      `json:"LastEvaluatedKey,omitempty"`
	ConsumedCapacity map[string]any `json:"ConsumedCapacity,omitempty"`
}

// prepare checks a Query's (query) or Scan's common parameters.
func (in *readIn) prepare(query bool) (*itemexpr.Condition, []itemexpr.Path, int, error) {
	var err error
	if query {
		if len(in.ScanFilter) > 0 {
			return nil, nil, 0, validation("ScanFilter is a parameter of Scan, not of Query")
		}
		err = in.exprs.legacy(nil, &in.FilterExpression, &in.KeyConditionExpression, nil, &in.ProjectionExpression)
	} else {
		if len(in.QueryFilter) > 0 || len(in.KeyConditions) > 0 {
			return nil, nil, 0, validation("QueryFilter and KeyConditions are parameters of Query, not of Scan")
		}
		err = in.exprs.legacy(nil, &in.FilterExpression, nil, nil, &in.ProjectionExpression)
	}
	if err != nil {
		return nil, nil, 0, err
	}
	if err := in.exprs.check(); err != nil {
		return nil, nil, 0, err
	}
	limit := 0
	if in.Limit != nil {
		if *in.Limit < 1 {
			return nil, nil, 0, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit)
		}
		limit = *in.Limit
	}
	switch in.Select {
	case "", "ALL_ATTRIBUTES", "COUNT":
	case "ALL_PROJECTED_ATTRIBUTES":
		if in.IndexName == "" {
			return nil, nil, 0, validation("One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is supported only for index queries and scans")
		}
	case "SPECIFIC_ATTRIBUTES":
		if in.ProjectionExpression == nil {
			return nil, nil, 0, validation("Select SPECIFIC_ATTRIBUTES needs a ProjectionExpression")
		}
	default:
		return nil, nil, 0, validation("1 validation error detected: Value '%s' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]", in.Select)
	}
	if in.Select == "COUNT" && in.ProjectionExpression != nil {
		return nil, nil, 0, validation("Cannot specify the AttributesToGet or ProjectionExpression when choosing to get only the Count")
	}
	filter, err := in.condition("FilterExpression", in.FilterExpression)
	if err != nil {
		return nil, nil, 0, err
	}
	paths, err := in.projection(in.ProjectionExpression)
	if err != nil {
		return nil, nil, 0, err
	}
	return filter, paths, limit, nil
}

// readInput is what the table store reads for in.
func (in *readIn) readInput(filter *itemexpr.Condition, limit int) tables.ReadInput {
	return tables.ReadInput{Index: in.IndexName, Filter: filter, Limit: limit, Start: in.ExclusiveStartKey, Consistent: in.ConsistentRead,
		AllAttributes: in.Select == "ALL_ATTRIBUTES", Fetch: in.ProjectionExpression != nil}
}

// answer writes a page as Query and Scan answer.
func (in *readIn) answer(p *tables.Page, paths []itemexpr.Path) *readOut {
	out := &readOut{Count: len(p.Items), ScannedCount: p.Scanned, LastEvaluatedKey: p.Last}
	size := 0
	if in.Select != "COUNT" {
		items := make([]item.Item, 0, len(p.Items))
		for _, it := range p.Items {
			size += it.Size()
			if paths != nil {
				it = itemexpr.Project(it, paths)
			}
			items = append(items, it)
		}
		out.Items = &items
	}
	out.ConsumedCapacity = in.capacity(in.TableName, size, false, in.ConsistentRead)
	return out
}

func (s *Server) query(ctx context.Context, in *readIn) (*readOut, error) {
	filter, paths, limit, err := in.prepare(true)
	if err != nil {
		return nil, err
	}
	if in.KeyConditionExpression == nil {
		return nil, validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
	}
	key, err := itemexpr.ParseKeyCondition(*in.KeyConditionExpression, in.params)
	if err != nil {
		return nil, err
	}
	if err := in.params.Unused(); err != nil {
		return nil, err
	}
	q := tables.QueryInput{Key: key, ReadInput: in.readInput(filter, limit)}
	if in.ScanIndexForward != nil && !*in.ScanIndexForward {
		q.Backward = true
	}
	p, err := s.t.Query(ctx, in.TableName, q)
	if err != nil {
		return nil, err
	}
	return in.answer(p, paths), nil
}

func (s *Server) scan(ctx context.Context, in *readIn) (*readOut, error) {
	filter, paths, limit, err := in.prepare(false)
	if err != nil {
		return nil, err
	}
	if err := in.params.Unused(); err != nil {
		return nil, err
	}
	sc := tables.ScanInput{ReadInput: in.readInput(filter, limit)}
	if (in.Segment == nil) != (in.TotalSegments == nil) {
		return nil, validation("The TotalSegments parameter is required but was not present in the request when parameter Segment is present")
	}
	if in.TotalSegments != nil {
		if *in.TotalSegments < 1 || *in.TotalSegments > 1000000 || *in.Segment < 0 || *in.Segment >= *in.TotalSegments {
			return nil, validation("The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: %d is not less than TotalSegments: %d", *in.Segment, *in.TotalSegments)
		}
		sc.Segment, sc.Total = *in.Segment, *in.TotalSegments
	}
	p, err := s.t.Scan(ctx, in.TableName, sc)
	if err != nil {
		return nil, err
	}
	return in.answer(p, paths), nil
}

type keysAndProjection struct {
	Keys                     []item.Item       `json:"Keys"`
	ConsistentRead           bool              `json:"ConsistentRead"`
	ProjectionExpression     *string           `json:"ProjectionExpression"`
	ExpressionAttributeNames map[string]string `json:"ExpressionAttributeNames"`
	AttributesToGet          []string          `json:"AttributesToGet"`
}

type batchGetIn struct {
	RequestItems           map[string]*keysAndProjection `json:"RequestItems"`
	ReturnConsumedCapacity string                        `json:"ReturnConsumedCapacity"`
}

type batchGetOut struct {
	Responses        map[string][]item.Item        `json:"Responses"`
	UnprocessedKeys  map[string]*keysAndProjection `json:"UnprocessedKeys"`
	ConsumedCapacity []map[string]any              `json:"ConsumedCapacity,omitempty"`
}

func (s *Server) batchGet(ctx context.Context, in *batchGetIn) (*batchGetOut, error) {
	total := 0
	names := make([]string, 0, len(in.RequestItems))
	for name, r := range in.RequestItems {
		names = append(names, name)
		if r == nil || len(r.Keys) == 0 {
			return nil, validation("1 validation error detected: Value at 'requestItems.%s.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1", name)
		}
		if len(r.AttributesToGet) > 0 {
			if r.ProjectionExpression != nil || r.ExpressionAttributeNames != nil {
				return nil, validation("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}")
			}
			e := &exprs{ExpressionAttributeNames: map[string]string{}}
			w := &legacyWriter{e: e}
			var ps []string
			for _, a := range r.AttributesToGet {
				ps = append(ps, w.name(a))
			}
			x := strings.Join(ps, ", ")
			r.ProjectionExpression, r.ExpressionAttributeNames, r.AttributesToGet = &x, e.ExpressionAttributeNames, nil
		}
		total += len(r.Keys)
	}
	if len(in.RequestItems) == 0 {
		return nil, validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if total > 100 {
		return nil, validation("Too many items requested for the BatchGetItem call")
	}
	if err := authorizeTables(ctx, "dynamodb:BatchGetItem", names); err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := &batchGetOut{Responses: map[string][]item.Item{}, UnprocessedKeys: map[string]*keysAndProjection{}}
	e := &exprs{ReturnConsumedCapacity: in.ReturnConsumedCapacity}
	if err := e.check(); err != nil {
		return nil, err
	}
	for _, name := range names {
		r := in.RequestItems[name]
		p := &itemexpr.Params{Names: r.ExpressionAttributeNames}
		var paths []itemexpr.Path
		if r.ProjectionExpression != nil {
			var err error
			if paths, err = itemexpr.ParseProjection(*r.ProjectionExpression, p); err != nil {
				return nil, err
			}
		}
		if err := p.Unused(); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		got := []item.Item{}
		size := 0
		for _, k := range r.Keys {
			kj := keyJSON(k)
			if seen[kj] {
				return nil, validation("Provided list of item keys contains duplicates")
			}
			seen[kj] = true
			it, err := s.t.GetItem(ctx, name, k, r.ConsistentRead)
			if err != nil {
				return nil, err
			}
			if it == nil {
				continue
			}
			size += it.Size()
			if paths != nil {
				it = itemexpr.Project(it, paths)
			}
			got = append(got, it)
		}
		out.Responses[name] = got
		if c := e.capacity(name, size, false, r.ConsistentRead); c != nil {
			out.ConsumedCapacity = append(out.ConsumedCapacity, c)
		}
	}
	return out, nil
}

type writeRequest struct {
	PutRequest *struct {
		Item item.Item `json:"Item"`
	} `json:"PutRequest"`
	DeleteRequest *struct {
		Key item.Item `json:"Key"`
	} `json:"DeleteRequest"`
}

type batchWriteIn struct {
	RequestItems           map[string][]writeRequest `json:"RequestItems"`
	ReturnConsumedCapacity string                    `json:"ReturnConsumedCapacity"`
}

type batchWriteOut struct {
	UnprocessedItems map[string][]writeRequest `json:"UnprocessedItems"`
	ConsumedCapacity []map[string]any          `json:"ConsumedCapacity,omitempty"`
}

func (s *Server) batchWrite(ctx context.Context, in *batchWriteIn) (*batchWriteOut, error) {
	total := 0
	names := make([]string, 0, len(in.RequestItems))
	for name, rs := range in.RequestItems {
		names = append(names, name)
		total += len(rs)
		for _, r := range rs {
			if (r.PutRequest == nil) == (r.DeleteRequest == nil) {
				return nil, validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
			}
		}
	}
	if total == 0 {
		return nil, validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if total > 25 {
		return nil, validation("1 validation error detected: Value '%d' at 'requestItems' failed to satisfy constraint: Member must have length less than or equal to 25", total)
	}
	if err := authorizeTables(ctx, "dynamodb:BatchWriteItem", names); err != nil {
		return nil, err
	}
	sort.Strings(names)
	e := &exprs{ReturnConsumedCapacity: in.ReturnConsumedCapacity}
	if err := e.check(); err != nil {
		return nil, err
	}
	// Every key once, and each item within the limits, before anything
	// is written.
	for _, name := range names {
		seen := map[string]bool{}
		for _, r := range in.RequestItems[name] {
			k := item.Item(nil)
			if r.PutRequest != nil {
				k = s.t.KeyFor(name, r.PutRequest.Item)
				if r.PutRequest.Item.Size() > item.MaxItemSize {
					return nil, validation("Item size has exceeded the maximum allowed size")
				}
			} else {
				k = r.DeleteRequest.Key
			}
			kj := keyJSON(k)
			if seen[kj] {
				return nil, validation("Provided list of item keys contains duplicates")
			}
			seen[kj] = true
		}
	}
	out := &batchWriteOut{UnprocessedItems: map[string][]writeRequest{}}
	for _, name := range names {
		size := 0
		for _, r := range in.RequestItems[name] {
			var err error
			if r.PutRequest != nil {
				_, err = s.t.PutItem(ctx, name, r.PutRequest.Item, tables.Condition{})
				size += r.PutRequest.Item.Size()
			} else {
				_, err = s.t.DeleteItem(ctx, name, r.DeleteRequest.Key, tables.Condition{})
				size += 1024
			}
			if err != nil {
				return nil, err
			}
		}
		if c := e.capacity(name, size, true, true); c != nil {
			out.ConsumedCapacity = append(out.ConsumedCapacity, c)
		}
	}
	return out, nil
}

// keyJSON is a key as text, to find repeats.
func keyJSON(k item.Item) string {
	b, _ := json.Marshal(k)
	return string(b)
}

type tagResourceIn struct {
	ResourceArn string   `json:"ResourceArn"`
	Tags        []tag    `json:"Tags"`
	TagKeys     []string `json:"TagKeys"`
	NextToken   string   `json:"NextToken"`
}

func (s *Server) tagResource(ctx context.Context, in *tagResourceIn) (*struct{}, error) {
	add := map[string]string{}
	for _, t := range in.Tags {
		add[t.Key] = t.Value
	}
	return &struct{}{}, s.t.Tag(ctx, tables.TableName(in.ResourceArn), add, nil)
}

func (s *Server) untagResource(ctx context.Context, in *tagResourceIn) (*struct{}, error) {
	return &struct{}{}, s.t.Tag(ctx, tables.TableName(in.ResourceArn), nil, in.TagKeys)
}

func (s *Server) listTags(ctx context.Context, in *tagResourceIn) (*struct {
	Tags []tag `json:"Tags"`
}, error) {
	d, _, _, err := s.t.Describe(tables.TableName(in.ResourceArn))
	if err != nil {
		return nil, err
	}
	out := &struct {
		Tags []tag `json:"Tags"`
	}{Tags: []tag{}}
	keys := make([]string, 0, len(d.Tags))
	for k := range d.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Tags = append(out.Tags, tag{k, d.Tags[k]})
	}
	return out, nil
}

func (s *Server) describeLimits(ctx context.Context, in *struct{}) (*map[string]int, error) {
	out := map[string]int{"AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
		"TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000}
	return &out, nil
}

type ttlSpec struct {
	Enabled       *bool  `json:"Enabled"`
	AttributeName string `json:"AttributeName"`
}

func (s *Server) updateTTL(ctx context.Context, in *struct {
	TableName               string   `json:"TableName"`
	TimeToLiveSpecification *ttlSpec `json:"TimeToLiveSpecification"`
}) (*struct {
	TimeToLiveSpecification *ttlSpec `json:"TimeToLiveSpecification"`
}, error) {
	sp := in.TimeToLiveSpecification
	if sp == nil || sp.Enabled == nil || sp.AttributeName == "" {
		return nil, validation("1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy constraint: Member must not be null")
	}
	if len(sp.AttributeName) > 255 {
		return nil, validation("1 validation error detected: Value '%s' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length less than or equal to 255", sp.AttributeName)
	}
	if _, err := s.t.SetTTL(ctx, tables.TableName(in.TableName), *sp.Enabled, sp.AttributeName); err != nil {
		return nil, err
	}
	return &struct {
		TimeToLiveSpecification *ttlSpec `json:"TimeToLiveSpecification"`
	}{sp}, nil
}

func (s *Server) describeTTL(ctx context.Context, in *tableIn) (*struct {
	TimeToLiveDescription map[string]string `json:"TimeToLiveDescription"`
}, error) {
	d, _, _, err := s.t.Describe(tables.TableName(in.TableName))
	if err != nil {
		return nil, err
	}
	desc := map[string]string{"TimeToLiveStatus": "DISABLED"}
	if d.TTL != nil && d.TTL.Enabled {
		desc["TimeToLiveStatus"], desc["AttributeName"] = "ENABLED", d.TTL.Attribute
	}
	return &struct {
		TimeToLiveDescription map[string]string `json:"TimeToLiveDescription"`
	}{desc}, nil
}
