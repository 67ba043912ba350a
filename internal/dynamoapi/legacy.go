package dynamoapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aloft-dev/aloft/internal/item"
)

// The legacy parameters (Expected, KeyConditions, QueryFilter,
// ScanFilter, AttributeUpdates, AttributesToGet and ConditionalOperator)
// are what older clients send instead of expressions. Each is written
// here as the expression it stands for, with placeholders of its own,
// and read by the one expression parser.

// legacyCondition is one attribute's legacy condition.
type legacyCondition struct {
	ComparisonOperator string        `json:"ComparisonOperator"`
	AttributeValueList []*item.Value `json:"AttributeValueList"`
	Value              *item.Value   `json:"Value"`  // Expected only
	Exists             *bool         `json:"Exists"` // Expected only
}

// legacyUpdate is one attribute's legacy update.
type legacyUpdate struct {
	Action string      `json:"Action"`
	Value  *item.Value `json:"Value"`
}

// operands is how many values each comparison operator takes (-1: one
// or more).
var operands = map[string]int{"EQ": 1, "NE": 1, "LE": 1, "LT": 1, "GE": 1, "GT": 1, "NOT_NULL": 0, "NULL": 0,
	"CONTAINS": 1, "NOT_CONTAINS": 1, "BEGINS_WITH": 1, "IN": -1, "BETWEEN": 2}

// legacyWriter writes expressions with generated placeholders.
type legacyWriter struct {
	e *exprs
	n int
}

func (w *legacyWriter) name(attr string) string {
	w.n++
	p := fmt.Sprintf("#legacy%d", w.n)
	w.e.ExpressionAttributeNames[p] = attr
	return p
}

func (w *legacyWriter) value(v *item.Value) string {
	w.n++
	p := fmt.Sprintf(":legacy%d", w.n)
	w.e.ExpressionAttributeValues[p] = v
	return p
}

// condition writes one attribute's condition; keyOnly allows only the
// operators of KeyConditions.
func (w *legacyWriter) condition(param, attr string, c legacyCondition, keyOnly bool) (string, error) {
	op := c.ComparisonOperator
	if op == "" {
		// Expected's short forms: Exists and Value.
		switch {
		case c.Exists != nil && !*c.Exists:
			if c.Value != nil {
				return "", validation("One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: %s", attr)
			}
			return "attribute_not_exists(" + w.name(attr) + ")", nil
		case c.Value != nil:
			return w.name(attr) + " = " + w.value(c.Value), nil
		default:
			return "", validation("One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: %s", attr)
		}
	}
	if c.Value != nil || c.Exists != nil {
		return "", validation("One or more parameter values were invalid: Exists and Value cannot be used with ComparisonOperator for Attribute: %s", attr)
	}
	want, ok := operands[op]
	if !ok || (keyOnly && !slices.Contains([]string{"EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN"}, op)) {
		if keyOnly && ok {
			return "", validation("Unsupported operator on KeyConditions: %s", op)
		}
		return "", validation("1 validation error detected: Value '%s' at '%s.%s.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]", op, param, attr)
	}
	vals := c.AttributeValueList
	if (want >= 0 && len(vals) != want) || (want < 0 && len(vals) == 0) {
		return "", validation("One or more parameter values were invalid: Invalid number of argument(s) for the %s ComparisonOperator", op)
	}
	a := w.name(attr)
	switch op {
	case "NOT_NULL":
		return "attribute_exists(" + a + ")", nil
	case "NULL":
		return "attribute_not_exists(" + a + ")", nil
	case "CONTAINS":
		return "contains(" + a + ", " + w.value(vals[0]) + ")", nil
	case "NOT_CONTAINS":
		return "NOT contains(" + a + ", " + w.value(vals[0]) + ")", nil
	case "BEGINS_WITH":
		return "begins_with(" + a + ", " + w.value(vals[0]) + ")", nil
	case "BETWEEN":
		return a + " BETWEEN " + w.value(vals[0]) + " AND " + w.value(vals[1]), nil
	case "IN":
		var ps []string
		for _, v := range vals {
			ps = append(ps, w.value(v))
		}
		return a + " IN (" + strings.Join(ps, ", ") + ")", nil
	}
	return a + " " + map[string]string{"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}[op] + " " + w.value(vals[0]), nil
}

// conditions writes a legacy condition map as one expression.
func (w *legacyWriter) conditions(param string, raw json.RawMessage, join string, keyOnly bool) (string, error) {
	var m map[string]legacyCondition
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", validation("Invalid %s: %s", param, err.Error())
	}
	attrs := make([]string, 0, len(m))
	for a := range m {
		attrs = append(attrs, a)
	}
	slices.Sort(attrs)
	var parts []string
	for _, a := range attrs {
		p, err := w.condition(param, a, m[a], keyOnly)
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+p+")")
	}
	return strings.Join(parts, " "+join+" "), nil
}

// legacy rewrites the legacy parameters of a request as expressions
// into the fields given (nil: the operation has no such expression, so
// the parameter stays and is refused by check).
func (e *exprs) legacy(cond, filter, keyCond, update, projection **string) error {
	given := func(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }
	var legacyNames []string
	for name, raw := range map[string]json.RawMessage{"Expected": e.Expected, "AttributeUpdates": e.AttributeUpdates, "KeyConditions": e.KeyConditions,
		"QueryFilter": e.QueryFilter, "ScanFilter": e.ScanFilter, "AttributesToGet": e.AttributesToGet} {
		if given(raw) {
			legacyNames = append(legacyNames, name)
		}
	}
	if e.ConditionalOperator != "" {
		legacyNames = append(legacyNames, "ConditionalOperator")
	}
	if len(legacyNames) == 0 {
		return nil
	}
	slices.Sort(legacyNames)
	var exprNames []string
	for name, p := range map[string]**string{"ConditionExpression": cond, "FilterExpression": filter, "KeyConditionExpression": keyCond,
		"UpdateExpression": update, "ProjectionExpression": projection} {
		if p != nil && *p != nil {
			exprNames = append(exprNames, name)
		}
	}
	if e.ExpressionAttributeNames != nil {
		exprNames = append(exprNames, "ExpressionAttributeNames")
	}
	if e.ExpressionAttributeValues != nil {
		exprNames = append(exprNames, "ExpressionAttributeValues")
	}
	if len(exprNames) > 0 {
		slices.Sort(exprNames)
		return validation("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {%s} Expression parameters: {%s}",
			strings.Join(legacyNames, ", "), strings.Join(exprNames, ", "))
	}
	join := "AND"
	switch e.ConditionalOperator {
	case "", "AND":
	case "OR":
		join = "OR"
	default:
		return validation("1 validation error detected: Value '%s' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]", e.ConditionalOperator)
	}
	e.ExpressionAttributeNames, e.ExpressionAttributeValues = map[string]string{}, map[string]*item.Value{}
	w := &legacyWriter{e: e}
	joined := false
	for _, c := range []struct {
		raw     *json.RawMessage
		name    string
		into    **string
		keyOnly bool
	}{{&e.Expected, "Expected", cond, false}, {&e.QueryFilter, "QueryFilter", filter, false}, {&e.ScanFilter, "ScanFilter", filter, false},
		{&e.KeyConditions, "KeyConditions", keyCond, true}} {
		if !given(*c.raw) || c.into == nil {
			continue
		}
		op := "AND"
		if !c.keyOnly {
			op, joined = join, true
		}
		x, err := w.conditions(c.name, *c.raw, op, c.keyOnly)
		if err != nil {
			return err
		}
		*c.into, *c.raw = &x, nil
	}
	if e.ConditionalOperator != "" && joined {
		e.ConditionalOperator = ""
	}
	if given(e.AttributeUpdates) && update != nil {
		var m map[string]legacyUpdate
		if err := json.Unmarshal(e.AttributeUpdates, &m); err != nil {
			return validation("Invalid AttributeUpdates: %s", err.Error())
		}
		attrs := make([]string, 0, len(m))
		for a := range m {
			attrs = append(attrs, a)
		}
		slices.Sort(attrs)
		clauses := map[string][]string{}
		for _, a := range attrs {
			u := m[a]
			switch {
			case (u.Action == "" || u.Action == "PUT") && u.Value != nil:
				clauses["SET"] = append(clauses["SET"], w.name(a)+" = "+w.value(u.Value))
			case u.Action == "DELETE" && u.Value == nil:
				clauses["REMOVE"] = append(clauses["REMOVE"], w.name(a))
			case u.Action == "DELETE" || u.Action == "ADD":
				if u.Value == nil {
					return validation("One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified")
				}
				clauses[u.Action] = append(clauses[u.Action], w.name(a)+" "+w.value(u.Value))
			case u.Action == "PUT":
				return validation("One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified")
			default:
				return validation("1 validation error detected: Value '%s' at 'attributeUpdates.%s.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]", u.Action, a)
			}
		}
		var x []string
		for _, kw := range []string{"SET", "REMOVE", "ADD", "DELETE"} {
			if len(clauses[kw]) > 0 {
				x = append(x, kw+" "+strings.Join(clauses[kw], ", "))
			}
		}
		if len(x) > 0 {
			s := strings.Join(x, " ")
			*update = &s
		}
		e.AttributeUpdates = nil
	}
	if given(e.AttributesToGet) && projection != nil {
		var attrs []string
		if err := json.Unmarshal(e.AttributesToGet, &attrs); err != nil || len(attrs) == 0 {
			return validation("1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
		var ps []string
		for _, a := range attrs {
			ps = append(ps, w.name(a))
		}
		s := strings.Join(ps, ", ")
		*projection, e.AttributesToGet = &s, nil
	}
	if len(e.ExpressionAttributeValues) == 0 {
		e.ExpressionAttributeValues = nil
	}
	if len(e.ExpressionAttributeNames) == 0 {
		e.ExpressionAttributeNames = nil
	}
	return nil
}
