package iamapi

import "encoding/xml"

// namedList is a listing's result: its items as <Name><member/>...
// </Name>, then IsTruncated and, when truncated, Marker.
type namedList[T any] struct {
	Name        string
	Items       members[T]
	IsTruncated bool
	Marker      string
}

// MarshalXML writes the listing inside start.
func (l namedList[T]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := e.EncodeElement(l.Items, xml.StartElement{Name: xml.Name{Local: l.Name}}); err != nil {
		return err
	}
	if err := e.EncodeElement(l.IsTruncated, xml.StartElement{Name: xml.Name{Local: "IsTruncated"}}); err != nil {
		return err
	}
	if l.Marker != "" {
		if err := e.EncodeElement(l.Marker, xml.StartElement{Name: xml.Name{Local: "Marker"}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// inlineXML is Get<Kind>Policy's result: the owner under its own tag
// (UserName or RoleName), the policy's name and its document.
type inlineXML struct {
	OwnerTag, Owner, PolicyName, PolicyDocument string
}

// MarshalXML writes the result inside start.
func (r inlineXML) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, f := range [][2]string{{r.OwnerTag, r.Owner}, {"PolicyName", r.PolicyName}, {"PolicyDocument", r.PolicyDocument}} {
		if err := e.EncodeElement(f[1], xml.StartElement{Name: xml.Name{Local: f[0]}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}
