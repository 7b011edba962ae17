// Package schema compiles the JSON Schemas of event types and checks
// events' data against them.
//
// Schemas are JSON Schema draft 2020-12 (unless they name another draft
// with $schema), compiled with no loader: a $ref may point only inside the
// schema itself, so a schema sent to the API can never make the server read
// a file or fetch a URL. The format keyword is asserted.
package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/theeye/eye"
)

// location is where a schema being compiled lives: nowhere real.
const location = "urn:eye:schema"

// noLoader refuses to load anything: a schema may refer only to itself.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is outside the schema: $ref may only point inside it", url)
}

// Compile compiles a JSON Schema document.
func Compile(doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		if _, isBool := v.(bool); !isBool {
			return nil, errors.New("a schema must be a JSON object (or true or false)")
		}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	if err := c.AddResource(location, v); err != nil {
		return nil, err
	}
	s, err := c.Compile(location)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Violations validates data and returns one reason per violation: the
// JSON Pointer of the field in data (for a missing required property, the
// object's pointer and the property's name), the keyword and the message.
func Violations(s *jsonschema.Schema, data []byte) []eye.Reason {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return []eye.Reason{{Code: eye.CodeSchemaViolation, Message: "data is not valid JSON: " + err.Error()}}
	}
	err = s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []eye.Reason{{Code: eye.CodeSchemaViolation, Message: err.Error()}}
	}
	p := message.NewPrinter(language.English)
	var out []eye.Reason
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		ptr := pointer(e.InstanceLocation)
		keyword := strings.Join(e.ErrorKind.KeywordPath(), "/")
		if req, ok := e.ErrorKind.(*kind.Required); ok {
			for _, missing := range req.Missing {
				out = append(out, eye.Reason{Code: eye.CodeSchemaViolation, Field: ptr + "/" + escape(missing),
					Keyword: keyword, Message: fmt.Sprintf("missing property %q", missing)})
			}
			return
		}
		if keyword == "" {
			keyword = "false"
		}
		out = append(out, eye.Reason{Code: eye.CodeSchemaViolation, Field: ptr, Keyword: keyword,
			Message: e.ErrorKind.LocalizedString(p)})
	}
	walk(ve)
	return out
}

// pointer renders an instance location as a JSON Pointer (RFC 6901).
func pointer(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		b.WriteByte('/')
		b.WriteString(escape(tok))
	}
	return b.String()
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// Lister is the part of the store a Registry reads: the active schema of
// each event type.
type Lister interface {
	ActiveSchemas(ctx context.Context) ([]eye.Schema, error)
}

type typeKey struct{ category, name string }

type compiled struct {
	version int
	schema  *jsonschema.Schema
}

// Registry holds the compiled active schema of every event type,
// refreshed from the store periodically by its owner, so that a schema
// change reaches every worker without a restart. It is an
// eye.SchemaChecker.
type Registry struct {
	store Lister
	log   *slog.Logger

	mu     sync.RWMutex
	byType map[typeKey]compiled
}

var _ eye.SchemaChecker = (*Registry)(nil)

// NewRegistry returns an empty registry over the store's schemas.
func NewRegistry(store Lister, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{store: store, log: log, byType: map[typeKey]compiled{}}
}

// Refresh loads the active schemas, compiling only those that changed.
func (r *Registry) Refresh(ctx context.Context) error {
	list, err := r.store.ActiveSchemas(ctx)
	if err != nil {
		return err
	}
	r.mu.RLock()
	old := r.byType
	r.mu.RUnlock()
	next := make(map[typeKey]compiled, len(list))
	for _, s := range list {
		k := typeKey{s.Category, s.Name}
		if c, ok := old[k]; ok && c.version == s.Version {
			next[k] = c
			continue
		}
		sch, err := Compile(s.Body)
		if err != nil {
			// Stored schemas were compiled before they were stored; keep
			// the type unchecked rather than stop every other one.
			r.log.Error("compile stored schema", "category", s.Category, "name", s.Name, "version", s.Version, "error", err)
			continue
		}
		next[k] = compiled{version: s.Version, schema: sch}
	}
	r.mu.Lock()
	r.byType = next
	r.mu.Unlock()
	return nil
}

// Check checks data against the active schema of its type.
func (r *Registry) Check(category, name string, data json.RawMessage) (int, []eye.Reason) {
	r.mu.RLock()
	c, ok := r.byType[typeKey{category, name}]
	r.mu.RUnlock()
	if !ok {
		return 0, nil
	}
	return c.version, Violations(c.schema, data)
}
