package tables

import (
	"context"
	"slices"
	"strings"

	"github.com/google/btree"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/item"
)

// SecondaryIndex is a table's global or local secondary index: another
// key over the same items, holding the attributes its projection names.
// An item without the index's key attributes is not in the index.
type SecondaryIndex struct {
	Name       string       `json:"name"`
	Global     bool         `json:"global"`
	KeySchema  []KeyElement `json:"keySchema"`
	Projection Projection   `json:"projection"`
	Throughput *Throughput  `json:"throughput,omitempty"`
}

// Projection names the attributes an index holds besides the keys: ALL,
// KEYS_ONLY, or INCLUDE with NonKeyAttributes.
type Projection struct {
	ProjectionType   string   `json:"ProjectionType"`
	NonKeyAttributes []string `json:"NonKeyAttributes,omitempty"`
}

// HashKey returns the index's partition key's name.
func (x *SecondaryIndex) HashKey() string { return keyOfKind(x.KeySchema, "HASH") }

// RangeKey returns the index's sort key's name, or "".
func (x *SecondaryIndex) RangeKey() string { return keyOfKind(x.KeySchema, "RANGE") }

// ARN returns the index's ARN in table d.
func (x *SecondaryIndex) ARN(d *Def) string { return d.ARN() + "/index/" + x.Name }

func keyOfKind(ks []KeyElement, kind string) string {
	for _, k := range ks {
		if k.KeyType == kind {
			return k.AttributeName
		}
	}
	return ""
}

// Index returns the secondary index named name, or nil.
func (d *Def) Index(name string) *SecondaryIndex {
	for i := range d.Indexes {
		if d.Indexes[i].Name == name {
			return &d.Indexes[i]
		}
	}
	return nil
}

// checkIndexKeys checks that an item's values of the indexes' key
// attributes, where it has them, are of their declared types and not
// empty: DynamoDB refuses the write otherwise.
func (d *Def) checkIndexKeys(it item.Item) *Error {
	for i := range d.Indexes {
		x := &d.Indexes[i]
		for _, k := range x.KeySchema {
			v := it[k.AttributeName]
			if v == nil {
				continue
			}
			typ := d.attrType(k.AttributeName)
			if v.Kind.String() != typ {
				return validation("One or more parameter values were invalid: Type mismatch for Index Key %s Expected: %s Actual: %s IndexName: %s", k.AttributeName, typ, v.Kind, x.Name)
			}
			if (v.Kind == item.S || v.Kind == item.B) && v.Str == "" {
				return validation("One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty %s value. IndexName: %s, IndexKey: %s",
					map[item.Kind]string{item.S: "string", item.B: "binary"}[v.Kind], x.Name, k.AttributeName)
			}
		}
	}
	return nil
}

// checkNext checks a new version of an item before it is stored.
func (d *Def) checkNext(next item.Item) *Error {
	if next == nil {
		return nil
	}
	if next.Size() > item.MaxItemSize {
		return validation("Item size has exceeded the maximum allowed size")
	}
	return d.checkIndexKeys(next)
}

// row is an item's place in an ordered tree: the tree's key (the
// table's own, or a secondary index's), the item's entry, and, for an
// index that does not project every attribute, the projected item.
type row struct {
	pk, sk *item.Value
	e      *entry
	proj   item.Item
}

// item returns what the tree holds of the row's item.
func (r *row) item() item.Item {
	if r.proj != nil {
		return r.proj
	}
	return r.e.item
}

// lessRow orders a secondary index by its key, then by the table's key
// (an index key need not be unique).
func lessRow(a, b *row) bool { return compareRows(a, b) < 0 }

func compareRows(a, b *row) int {
	if c := compareKey(a.pk, b.pk); c != 0 {
		return c
	}
	if c := compareKey(a.sk, b.sk); c != 0 {
		return c
	}
	if c := compareKey(a.e.pk, b.e.pk); c != 0 {
		return c
	}
	return compareKey(a.e.sk, b.e.sk)
}

// secondary is one secondary index on this node.
type secondary struct {
	def  *SecondaryIndex
	base *Def
	tree *btree.BTreeG[*row]
	n    int
	size int
}

func newSecondary(base *Def, x *SecondaryIndex) *secondary {
	return &secondary{def: x, base: base, tree: btree.NewG(32, lessRow)}
}

// rowOf returns e's row in the index, or nil when its item lacks the
// index's key.
func (sx *secondary) rowOf(e *entry) *row {
	if e.item == nil {
		return nil
	}
	pk := e.item[sx.def.HashKey()]
	if pk == nil {
		return nil
	}
	r := &row{pk: pk, e: e}
	if rk := sx.def.RangeKey(); rk != "" {
		if r.sk = e.item[rk]; r.sk == nil {
			return nil
		}
	}
	if sx.def.Projection.ProjectionType != "ALL" {
		r.proj = sx.project(e.item)
	}
	return r
}

// project returns the attributes of it that the index holds.
func (sx *secondary) project(it item.Item) item.Item {
	out := item.Item{}
	for _, ks := range [][]KeyElement{sx.base.KeySchema, sx.def.KeySchema} {
		for _, k := range ks {
			if v := it[k.AttributeName]; v != nil {
				out[k.AttributeName] = v
			}
		}
	}
	if sx.def.Projection.ProjectionType == "INCLUDE" {
		for _, a := range sx.def.Projection.NonKeyAttributes {
			if v := it[a]; v != nil {
				out[a] = v
			}
		}
	}
	return out
}

func (sx *secondary) remove(e *entry) {
	if r := sx.rowOf(e); r != nil {
		if old, ok := sx.tree.Delete(r); ok {
			sx.n--
			sx.size -= old.item().Size()
		}
	}
}

func (sx *secondary) add(e *entry) {
	if r := sx.rowOf(e); r != nil {
		sx.tree.ReplaceOrInsert(r)
		sx.n++
		sx.size += r.item().Size()
	}
}

// redefine makes the index's secondary indexes and time to live those
// of d: an index
// already built is kept, a new one is filled from the items (its
// backfill), a removed one dropped.
func (ix *index) redefine(d *Def) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	attr := ""
	if d.TTL != nil && d.TTL.Enabled {
		attr = d.TTL.Attribute
	}
	ix.setTTL(attr)
	next := make(map[string]*secondary, len(d.Indexes))
	for i := range d.Indexes {
		x := &d.Indexes[i]
		if old := ix.sec[x.Name]; old != nil && slices.Equal(old.def.KeySchema, x.KeySchema) && projectionEqual(old.def.Projection, x.Projection) {
			old.def = x
			next[x.Name] = old
			continue
		}
		sx := newSecondary(ix.def, x)
		for _, e := range ix.byHash {
			sx.add(e)
		}
		next[x.Name] = sx
	}
	ix.sec = next
}

func projectionEqual(a, b Projection) bool {
	return a.ProjectionType == b.ProjectionType && slices.Equal(a.NonKeyAttributes, b.NonKeyAttributes)
}

// IndexStats is a secondary index's item count and size.
type IndexStats struct {
	Count, Size int
}

// indexStats returns the secondary indexes' counts and sizes by name.
func (ix *index) indexStats() map[string]IndexStats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make(map[string]IndexStats, len(ix.sec))
	for name, sx := range ix.sec {
		out[name] = IndexStats{sx.n, sx.size}
	}
	return out
}

// Limits of secondary indexes, as DynamoDB's.
const (
	maxLocalIndexes   = 5
	maxGlobalIndexes  = 20
	maxProjectedAttrs = 100 // NonKeyAttributes across a table's indexes
)

// checkIndexes checks a table's secondary indexes, and that its
// attribute definitions are exactly the attributes its keys use.
func checkIndexes(d *Def) *Error {
	used := map[string]bool{}
	for _, k := range d.KeySchema {
		used[k.AttributeName] = true
	}
	names := map[string]bool{}
	local, global, projected := 0, 0, 0
	for i := range d.Indexes {
		x := &d.Indexes[i]
		if !validName.MatchString(x.Name) {
			return badName("indexName", x.Name)
		}
		if names[x.Name] {
			return validation("One or more parameter values were invalid: Duplicate index name: %s", x.Name)
		}
		names[x.Name] = true
		if len(x.KeySchema) == 0 || len(x.KeySchema) > 2 || x.KeySchema[0].KeyType != "HASH" || (len(x.KeySchema) == 2 && x.KeySchema[1].KeyType != "RANGE") {
			return validation("One or more parameter values were invalid: Invalid KeySchema for index: %s", x.Name)
		}
		if len(x.KeySchema) == 2 && x.KeySchema[0].AttributeName == x.KeySchema[1].AttributeName {
			return validation("Both the Hash Key and the Range Key element in the KeySchema have the same name")
		}
		for _, k := range x.KeySchema {
			if d.attrType(k.AttributeName) == "" {
				return validation("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]", keyNames(x.KeySchema), defNames(d.AttributeDefinitions))
			}
			used[k.AttributeName] = true
		}
		if x.Global {
			global++
			if d.BillingMode == "PROVISIONED" && x.Throughput == nil {
				return validation("One or more parameter values were invalid: ProvisionedThroughput must be specified for index: %s", x.Name)
			}
			if d.BillingMode == "PAY_PER_REQUEST" && x.Throughput != nil {
				return validation("One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: %s when BillingMode is PAY_PER_REQUEST", x.Name)
			}
		} else {
			local++
			x.Throughput = nil
			if d.RangeKey() == "" {
				return validation("One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex")
			}
			if x.RangeKey() == "" {
				return validation("One or more parameter values were invalid: Index KeySchema does not have a range key for index: %s", x.Name)
			}
			if x.HashKey() != d.HashKey() {
				return validation("One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: %s. index hash key: %s, table hash key: %s", x.Name, x.HashKey(), d.HashKey())
			}
		}
		switch p := x.Projection; p.ProjectionType {
		case "ALL", "KEYS_ONLY":
			if len(p.NonKeyAttributes) > 0 {
				return validation("One or more parameter values were invalid: ProjectionType is %s, but NonKeyAttributes is specified", p.ProjectionType)
			}
		case "INCLUDE":
			if len(p.NonKeyAttributes) == 0 {
				return validation("One or more parameter values were invalid: NonKeyAttributes must not be empty when ProjectionType is INCLUDE for index: %s", x.Name)
			}
			projected += len(p.NonKeyAttributes)
		case "":
			return validation("One or more parameter values were invalid: Unknown ProjectionType: null")
		default:
			return validation("1 validation error detected: Value '%s' at 'projection.projectionType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]", p.ProjectionType)
		}
	}
	if local > maxLocalIndexes {
		return validation("One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of %d", maxLocalIndexes)
	}
	if global > maxGlobalIndexes {
		return validation("One or more parameter values were invalid: Number of GlobalSecondaryIndexes exceeds per-table limit of %d", maxGlobalIndexes)
	}
	if projected > maxProjectedAttrs {
		return validation("One or more parameter values were invalid: The number of projected attributes in all indexes exceeds the limit of %d", maxProjectedAttrs)
	}
	if len(used) != len(d.AttributeDefinitions) {
		var names []string
		for n := range used {
			names = append(names, n)
		}
		slices.Sort(names)
		return validation("One or more parameter values were invalid: Some AttributeDefinitions are not used. AttributeDefinitions: [%s], keys used: [%s]", defNames(d.AttributeDefinitions), strings.Join(names, ", "))
	}
	return nil
}

// Update is a change of a table's definition (UpdateTable): each field
// given is changed.
type Update struct {
	Stream               *StreamChange
	BillingMode          string
	Throughput           *Throughput
	DeletionProtection   *bool
	AttributeDefinitions []AttributeDefinition // for an index created
	CreateIndex          *SecondaryIndex       // a global index to add, filled from the items
	DeleteIndex          string                // a global index to remove
	IndexThroughput      map[string]*Throughput
}

// StreamChange enables (with a view type) or disables a table's stream.
type StreamChange struct {
	Enabled  bool
	ViewType string
}

// Update changes table name's definition.
func (s *Service) Update(ctx context.Context, name string, u Update) (*Def, error) {
	return s.change(ctx, name, "update", func(d *Def) error {
		if u.CreateIndex != nil && u.DeleteIndex != "" {
			return &Error{Kind: fault.Throttled, Type: "LimitExceededException", Message: "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"}
		}
		if u.Stream != nil {
			if err := s.setStream(ctx, d, u.Stream); err != nil {
				return err
			}
		}
		if u.DeletionProtection != nil {
			d.DeletionProtection = *u.DeletionProtection
		}
		switch u.BillingMode {
		case "":
		case "PAY_PER_REQUEST":
			d.BillingMode, d.Throughput = u.BillingMode, nil
			for i := range d.Indexes {
				d.Indexes[i].Throughput = nil
			}
		case "PROVISIONED":
			if u.Throughput == nil && d.BillingMode != "PROVISIONED" {
				return validation("One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED")
			}
			d.BillingMode = u.BillingMode
		default:
			return validation("1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]", u.BillingMode)
		}
		if u.Throughput != nil {
			if d.BillingMode == "PAY_PER_REQUEST" {
				return validation("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
			}
			d.Throughput = u.Throughput
		}
		for name, tp := range u.IndexThroughput {
			x := d.Index(name)
			if x == nil || !x.Global {
				return &Error{Kind: fault.NotFound, Type: "ResourceNotFoundException", Message: "Requested resource not found: Index: " + name + " not found"}
			}
			x.Throughput = tp
		}
		if u.DeleteIndex != "" {
			i := slices.IndexFunc(d.Indexes, func(x SecondaryIndex) bool { return x.Name == u.DeleteIndex && x.Global })
			if i < 0 {
				return &Error{Kind: fault.NotFound, Type: "ResourceNotFoundException", Message: "Requested resource not found: Index: " + u.DeleteIndex + " not found"}
			}
			d.Indexes = slices.Delete(d.Indexes, i, i+1)
		}
		if u.CreateIndex != nil {
			if d.Index(u.CreateIndex.Name) != nil {
				return validation("One or more parameter values were invalid: Index %s already exists", u.CreateIndex.Name)
			}
			for _, a := range u.AttributeDefinitions {
				if t := d.attrType(a.AttributeName); t != "" {
					if t != a.AttributeType {
						return validation("Cannot update attribute %s. This attribute is part of the key", a.AttributeName)
					}
					continue
				}
				d.AttributeDefinitions = append(d.AttributeDefinitions, a)
			}
			x := *u.CreateIndex
			x.Global = true
			d.Indexes = append(d.Indexes, x)
		}
		d.AttributeDefinitions = slices.DeleteFunc(d.AttributeDefinitions, func(a AttributeDefinition) bool { return !d.keyAttribute(a.AttributeName) })
		if err := checkSchema(d); err != nil {
			return err
		}
		return nil
	})
}

// keyAttribute reports whether name is a key attribute of the table or
// of one of its indexes.
func (d *Def) keyAttribute(name string) bool {
	if d.HashKey() == name || d.RangeKey() == name {
		return true
	}
	for i := range d.Indexes {
		if d.Indexes[i].HashKey() == name || d.Indexes[i].RangeKey() == name {
			return true
		}
	}
	return false
}

// IndexStats returns the item counts and sizes of table name's
// secondary indexes, by name.
func (s *Service) IndexStats(name string) map[string]IndexStats {
	t, err := s.get(name)
	if err != nil {
		return nil
	}
	return t.idx.indexStats()
}
