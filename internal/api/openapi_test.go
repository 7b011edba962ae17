package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// documentFile is the OpenAPI document, as the server embeds it.
const documentFile = "openapi.yaml"

// loadDocument loads and validates the OpenAPI document, but for its
// examples, whose validation is slow: TestOpenAPIDocument checks those.
func loadDocument(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(documentFile)
	if err != nil {
		t.Fatalf("load %s: %v", documentFile, err)
	}
	if err := doc.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", documentFile, err)
	}
	return doc
}

// conformance serves the API and checks every request the HTTP tests send
// through it, and every answer, against the OpenAPI document. newEnv puts
// it in front of the API, so that every test using an env (api_test.go,
// flow_test.go, fuzz_test.go, auth_test.go, …) is a conformance test too.
//
// Every answer is checked: its path and method must be in the document,
// its status documented for the operation, its documented headers present
// and well-formed, and its body of the documented media type and schema,
// whose objects forbid undocumented members. A status documented without
// a body must come without one. An answer for a path the document does
// not have must be a 404 problem document; for a method a documented path
// does not have, a 405 problem document whose Allow header lists exactly
// the documented methods.
//
// A request is checked only when its answer is 2xx: the tests send
// invalid requests on purpose (bad parameters, bodies, keys; the fuzz
// test's random input), and those are answered 4xx. Then its parameters,
// its body and its key are checked: the key must have the scope the
// operation's security requirement names. The bodies of POST /events/ and
// POST /events/batch/ are not checked, because these answer 202 to any
// JSON object and validate later (TestEventSchemaAgreesWithRules checks
// their schema against the rules instead).
//
// A failure replaces the answer with a 500 saying what does not conform,
// so that the test that sent the request fails there, and it is reported
// again when the test ends, so that an answer a test ignores cannot pass
// unnoticed.
type conformance struct {
	next    http.Handler
	keys    *api.Keyring
	router  routers.Router
	problem *openapi3.Schema

	mu       sync.Mutex
	failures []string
}

// validatedLater reports whether an operation accepts any JSON object (or
// array element) with 2xx, and validates it later.
func validatedLater(operationID string) bool {
	return operationID == "postEvent" || operationID == "postBatch"
}

// newConformance returns next behind the conformance check, whose
// failures are reported to t when it ends. keys tells the scopes of the
// keys requests carry.
func newConformance(t testing.TB, next http.Handler, keys *api.Keyring) *conformance {
	t.Helper()
	c := newChecker(t, next, keys)
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		counts := map[string]int{}
		var distinct []string
		for _, f := range c.failures {
			if counts[f] == 0 {
				distinct = append(distinct, f)
			}
			counts[f]++
		}
		for _, f := range distinct {
			t.Errorf("%d answers did not conform to %s: %s", counts[f], documentFile, f)
		}
	})
	return c
}

// newChecker returns next behind the conformance check, which keeps its
// failures.
func newChecker(t testing.TB, next http.Handler, keys *api.Keyring) *conformance {
	t.Helper()
	doc := loadDocument(t)
	router, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
	if err != nil {
		t.Fatalf("route %s: %v", documentFile, err)
	}
	return &conformance{next: next, keys: keys, router: router, problem: doc.Components.Schemas["Problem"].Value}
}

// recorded is an answer held back until it is checked.
type recorded struct {
	header http.Header
	sent   http.Header // the header as it was when the status was written
	status int
	body   bytes.Buffer
}

func (r *recorded) Header() http.Header { return r.header }

func (r *recorded) WriteHeader(status int) {
	if r.status == 0 {
		r.status, r.sent = status, r.header.Clone()
	}
}

func (r *recorded) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// keyInfo is what the request's key allowed when it arrived.
type keyInfo struct {
	scopes []string
	known  bool
	cookie bool // the key came in the session cookie
}

// streamPath is the one endpoint whose answer never ends: it is checked as
// it starts (status and media type), then passed through live.
const streamPath = "/events/stream"

// live passes a streaming answer through, checking its start.
type live struct {
	http.ResponseWriter
	c      *conformance
	r      *http.Request
	status int
}

func (l *live) WriteHeader(status int) {
	if l.status == 0 {
		l.status = status
		ct := l.Header().Get("Content-Type")
		switch {
		case status == http.StatusOK && ct != "text/event-stream":
			l.c.record(fmt.Sprintf("%s %s answered 200 as %q, not text/event-stream", l.r.Method, l.r.URL, ct))
		case status != http.StatusOK && (status < 400 || ct != "application/problem+json"):
			l.c.record(fmt.Sprintf("%s %s answered %d as %q, not a problem document", l.r.Method, l.r.URL, status, ct))
		}
		l.ResponseWriter.WriteHeader(status)
	}
}

func (l *live) Write(b []byte) (int, error) {
	l.WriteHeader(http.StatusOK)
	return l.ResponseWriter.Write(b)
}

// Unwrap lets the handler flush the stream.
func (l *live) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// record keeps a failure that cannot replace an answer already sent.
func (c *conformance) record(msg string) {
	c.mu.Lock()
	c.failures = append(c.failures, msg)
	c.mu.Unlock()
}

func (c *conformance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if path.Clean(r.URL.Path) == streamPath && r.Method == http.MethodGet {
		c.next.ServeHTTP(&live{ResponseWriter: w, c: c, r: r}, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		c.fail(w, fmt.Sprintf("%s %s: read the request body: %v", r.Method, r.URL, err))
		return
	}
	// The router changes the request it routes: keep it as it was sent.
	sent := r.Clone(r.Context())
	key := c.keyOf(r)
	r.Body = io.NopCloser(bytes.NewReader(body))
	res := &recorded{header: http.Header{}}
	c.next.ServeHTTP(res, r)
	res.WriteHeader(http.StatusOK)

	if problems := c.check(sent, body, key, res); len(problems) > 0 {
		answer := res.body.String()
		if len(answer) > 600 {
			answer = answer[:600] + "…"
		}
		c.fail(w, fmt.Sprintf("%s %s answered %d:\n\t%s\n\tanswer: %s", r.Method, sent.URL.RequestURI(), res.status,
			strings.Join(problems, "\n\t"), answer))
		return
	}
	maps.Copy(w.Header(), res.sent)
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body.Bytes())
}

// fail records a failure and answers 500 with it.
func (c *conformance) fail(w http.ResponseWriter, msg string) {
	c.record(msg)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, "the answer does not conform to "+documentFile+": "+msg+"\n")
}

// keyOf returns the scopes of the request's bearer key, if it is a key,
// or of its browser key's ?key= (documented as a parameter, it stands for
// the bearer key), or else of its session cookie's.
func (c *conformance) keyOf(r *http.Request) keyInfo {
	if secret := r.URL.Query().Get("key"); secret != "" && r.Header.Get("Authorization") == "" {
		k, found := c.keys.Lookup(secret)
		return keyInfo{scopes: k.Scopes, known: found}
	}
	if r.Header.Get("Authorization") == "" {
		cookie, err := r.Cookie(api.SessionCookie)
		if err != nil {
			return keyInfo{}
		}
		k, found := c.keys.Lookup(cookie.Value)
		return keyInfo{scopes: k.Scopes, known: found, cookie: true}
	}
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return keyInfo{}
	}
	k, found := c.keys.Lookup(strings.TrimSpace(secret))
	return keyInfo{scopes: k.Scopes, known: found}
}

// route finds the documented operation of method on p, a path normalized
// as the server does it (cleaned, without a trailing slash): documented
// paths end with a slash, but for a few (/healthz, /openapi.json, …).
// The match must be exact: the legacy router alone would also match
// /events/ to /events/{id}/ with an empty id.
func (c *conformance) route(method, p string) (*routers.Route, map[string]string, bool) {
	candidates := []string{p}
	if p != "/" {
		candidates = []string{p + "/", p}
	}
	for _, cand := range candidates {
		route, params, err := c.router.FindRoute(&http.Request{Method: method, URL: &url.URL{Path: cand}})
		if err != nil {
			continue
		}
		expanded := route.Path
		for name, v := range params {
			if v == "" || strings.Contains(v, "/") {
				expanded = ""
				break
			}
			expanded = strings.ReplaceAll(expanded, "{"+name+"}", v)
		}
		if expanded == cand {
			return route, params, true
		}
	}
	return nil, nil, false
}

// methods returns the documented methods of p, with HEAD wherever GET is.
func (c *conformance) methods(p string) []string {
	var ms []string
	for _, m := range []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"} {
		find := m
		if m == http.MethodHead {
			find = http.MethodGet
		}
		if _, _, ok := c.route(find, p); ok {
			ms = append(ms, m)
		}
	}
	return ms
}

// check returns what does not conform in a request and its answer.
func (c *conformance) check(r *http.Request, body []byte, key keyInfo, res *recorded) []string {
	p := path.Clean("/" + r.URL.Path)
	find := r.Method
	if find == http.MethodHead {
		find = http.MethodGet // HEAD is implied by GET
	}
	route, params, ok := c.route(find, p)
	if !ok {
		return c.checkUnrouted(r, p, res)
	}
	op := route.Operation
	if r.Method == http.MethodHead {
		if op.Responses.Status(res.status) == nil {
			return []string{fmt.Sprintf("status %d is not documented for GET %s", res.status, route.Path)}
		}
		return nil
	}

	ctx := r.Context()
	req := r.Clone(ctx)
	req.URL.Path, req.URL.RawPath = p, ""
	req.Body, req.ContentLength, req.GetBody = io.NopCloser(bytes.NewReader(body)), int64(len(body)), nil
	if rb := op.RequestBody; rb != nil && rb.Value != nil {
		// Any application/*+json body is read as JSON, as the document says.
		ct := req.Header.Get("Content-Type")
		if mt, _, _ := mime.ParseMediaType(ct); strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json") &&
			rb.Value.Content.Get(ct) == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		SkipSettingDefaults:   true,
		ExcludeRequestBody:    validatedLater(op.OperationID),
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			switch {
			case in.SecuritySchemeName == "sessionCookie" && !key.cookie:
				return in.NewError(errors.New("the request carries no session cookie"))
			case in.SecuritySchemeName == "bearerAuth" && key.cookie:
				return in.NewError(errors.New("the request carries no bearer key"))
			case !key.known:
				return in.NewError(errors.New("the request carries no valid key"))
			}
			for _, scope := range in.Scopes {
				if !eye.Allows(key.scopes, scope) {
					return in.NewError(fmt.Errorf("the key's scopes %v do not allow %s", key.scopes, scope))
				}
			}
			return nil
		},
	}
	opts.WithCustomSchemaErrorFunc(schemaMessage)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}

	answer := res.body.Bytes()
	if res.sent.Get("Content-Encoding") == "gzip" {
		// The document describes the content, not its coding (exports).
		zr, err := gzip.NewReader(bytes.NewReader(answer))
		if err == nil {
			answer, err = io.ReadAll(zr)
		}
		if err != nil {
			return []string{fmt.Sprintf("the answer is not the gzip it says: %v", err)}
		}
	}
	var problems []string
	err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 res.status,
		Header:                 res.sent,
		Body:                   io.NopCloser(bytes.NewReader(answer)),
		Options:                opts,
	})
	if err != nil {
		problems = append(problems, fmt.Sprintf("answer (%s %s): %v", route.Method, route.Path, err))
	}
	if doc := op.Responses.Status(res.status); doc != nil && len(doc.Value.Content) == 0 && res.body.Len() > 0 {
		problems = append(problems, fmt.Sprintf("a body with status %d, documented without one", res.status))
	}
	if res.status >= 200 && res.status < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			problems = append(problems, fmt.Sprintf("request (%s %s): %v", route.Method, route.Path, err))
		}
	}
	return problems
}

// checkUnrouted checks the answer to a request the document has no
// operation for: 405 when the path has other methods, 404 otherwise.
func (c *conformance) checkUnrouted(r *http.Request, p string, res *recorded) []string {
	allowed := c.methods(p)
	status, code := http.StatusNotFound, "not_found"
	if len(allowed) > 0 {
		status, code = http.StatusMethodNotAllowed, "method_not_allowed"
	}
	if res.status != status {
		if status == http.StatusNotFound {
			return []string{fmt.Sprintf("the document has no path %s, yet the answer is %d", p, res.status)}
		}
		return []string{fmt.Sprintf("the document has no %s %s (only %v), yet the answer is %d", r.Method, p, allowed, res.status)}
	}
	var problems []string
	if status == http.StatusMethodNotAllowed {
		got := strings.Split(res.sent.Get("Allow"), ", ")
		slices.Sort(got)
		if !slices.Equal(got, allowed) {
			problems = append(problems, fmt.Sprintf("Allow: %v; the document has %v", got, allowed))
		}
	}
	if r.Method == http.MethodHead {
		return problems
	}
	return append(problems, c.checkProblem(res, status, code)...)
}

// checkProblem checks that an answer is a problem document of the
// document's Problem schema, with status and code.
func (c *conformance) checkProblem(res *recorded, status int, code string) []string {
	if ct := res.sent.Get("Content-Type"); ct != "application/problem+json" {
		return []string{fmt.Sprintf("Content-Type %q, want application/problem+json", ct)}
	}
	var v any
	if err := json.Unmarshal(res.body.Bytes(), &v); err != nil {
		return []string{fmt.Sprintf("the problem document is not JSON: %v", err)}
	}
	err := c.problem.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors(),
		openapi3.SetSchemaErrorMessageCustomizer(schemaMessage))
	if err != nil {
		return []string{fmt.Sprintf("the problem document does not match the Problem schema: %v", err)}
	}
	if m := v.(map[string]any); m["status"] != float64(status) || m["code"] != code {
		return []string{fmt.Sprintf("problem status %v code %v, want %d %s", m["status"], m["code"], status, code)}
	}
	return nil
}

// schemaMessage says where a value breaks a schema and why, without the
// whole schema and value kin-openapi prints by default.
func schemaMessage(err *openapi3.SchemaError) string {
	reason := err.Reason
	if err.Origin != nil {
		reason = err.Origin.Error()
	}
	if reason == "" {
		reason = "breaks " + err.SchemaField
	}
	return fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), reason)
}

// TestOpenAPIDocument checks that the document is valid OpenAPI 3.1,
// examples included, and read as such: the same document declared 3.0 is
// invalid (its nullable members are 3.1 type arrays).
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(documentFile)
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi: %q; want 3.1.0, read as 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI 3.1 document: %v", documentFile, err)
	}
	raw, err := os.ReadFile(documentFile)
	if err != nil {
		t.Fatal(err)
	}
	as30 := bytes.Replace(raw, []byte("openapi: 3.1.0\n"), []byte("openapi: 3.0.3\n"), 1)
	loader = openapi3.NewLoader()
	doc30, err := loader.LoadFromData(as30)
	if err == nil {
		err = doc30.Validate(loader.Context)
	}
	if err == nil || !strings.Contains(err.Error(), `"null"`) {
		t.Errorf("the document declared 3.0.3: %v; want its 3.1 type \"null\" refused", err)
	}
}

// TestOpenAPIOperations checks what every operation must say: its scope
// (in its security requirement and its description), the errors it can
// answer, and that answers' objects forbid undocumented members.
func TestOpenAPIOperations(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	scheme := doc.Components.SecuritySchemes["bearerAuth"]
	if scheme == nil || scheme.Value.Type != "http" || scheme.Value.Scheme != "bearer" {
		t.Fatalf("security scheme bearerAuth: %+v; want http bearer", scheme)
	}
	cookie := doc.Components.SecuritySchemes["sessionCookie"]
	if cookie == nil || cookie.Value.Type != "apiKey" || cookie.Value.In != "cookie" || cookie.Value.Name != api.SessionCookie {
		t.Fatalf("security scheme sessionCookie: %+v; want the cookie %s", cookie, api.SessionCookie)
	}
	ids := map[string]string{}
	for p, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + p
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) != 1 {
				t.Errorf("%s: wants an operationId, a summary and one tag", name)
			}
			if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %s is %s's too", name, op.OperationID, other)
			}
			ids[op.OperationID] = name
			if op.Security == nil {
				t.Errorf("%s: wants a security requirement, empty when public", name)
				continue
			}
			statuses := slices.Collect(maps.Keys(op.Responses.Map()))
			want := func(reason string, codes ...string) {
				for _, code := range codes {
					if !slices.Contains(statuses, code) {
						t.Errorf("%s: no %s response (%s)", name, code, reason)
					}
				}
			}
			if len(*op.Security) == 0 {
				if !strings.HasPrefix(op.Description, "Public: no key needed.") {
					t.Errorf("%s: a public operation's description starts with \"Public: no key needed.\"", name)
				}
			} else {
				// A key, or the admin UI's session cookie, with one scope.
				req := (*op.Security)[0]
				scopes := req["bearerAuth"]
				if len(*op.Security) != 2 || len(req) != 1 || len(scopes) != 1 ||
					len((*op.Security)[1]) != 1 || !slices.Equal((*op.Security)[1]["sessionCookie"], scopes) {
					t.Errorf("%s: security %v; want bearerAuth or sessionCookie, with one scope", name, *op.Security)
					continue
				}
				if !slices.Contains([]string{eye.ScopeIngest, eye.ScopeRead, eye.ScopeAdmin}, scopes[0]) {
					t.Errorf("%s: unknown scope %q", name, scopes[0])
				}
				if !strings.HasPrefix(op.Description, "Scope: `"+scopes[0]+"`.") {
					t.Errorf("%s: the description must start with \"Scope: `%s`.\"", name, scopes[0])
				}
				want("a key is needed", "401", "403", "429", "503")
			}
			if op.RequestBody != nil {
				want("it reads a body", "400", "413", "415")
			}
			if strings.Contains(p, "{id}") {
				want("it names an id", "404")
			}
			if op.Parameters.GetByInAndName("query", "limit") != nil {
				want("it takes query parameters", "400")
			}
			for status, res := range op.Responses.Map() {
				for mt, content := range res.Value.Content {
					if content.Schema != nil {
						checkClosed(t, fmt.Sprintf("%s %s %s", name, status, mt), content.Schema, map[*openapi3.Schema]bool{})
					}
				}
			}
		}
	}
}

// checkClosed checks that every object a schema describes member by
// member forbids other members (additionalProperties: false). Free-form
// objects (an event's data, the OpenAPI document) describe no member.
func checkClosed(t *testing.T, where string, ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	s := ref.Value
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if s.Type.Is("object") && len(s.Properties) > 0 && (s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has) {
		t.Errorf("%s: schema %s lists members but allows others: set additionalProperties: false", where, ref.Ref)
	}
	for _, sub := range slices.Concat(slices.Collect(maps.Values(s.Properties)), s.AllOf, s.OneOf, s.AnyOf) {
		checkClosed(t, where, sub, seen)
	}
	if s.Items != nil {
		checkClosed(t, where, s.Items, seen)
	}
}

// TestOpenAPIExamples checks that the three example events are the
// document's examples, as they are.
func TestOpenAPIExamples(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	want := map[string]string{
		"Pageview": `{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "category": "page interaction", "name": "pageview",
			"data": {"host": "www.example.com", "path": "/"}, "timestamp": "2021-01-01 09:15:27.243860"}`,
		"CtaClick": `{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "category": "page interaction", "name": "cta click",
			"data": {"host": "www.example.com", "path": "/", "element": "chat bubble"}, "timestamp": "2021-01-01 09:15:27.243860"}`,
		"FormSubmit": `{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "category": "form interaction", "name": "submit",
			"data": {"host": "www.example.com", "path": "/", "form": {"first_name": "John", "last_name": "Doe"}},
			"timestamp": "2021-01-01 09:15:27.243860"}`,
	}
	input := doc.Components.Schemas["EventInput"].Value
	for name, js := range want {
		ex := doc.Components.Examples[name]
		if ex == nil {
			t.Errorf("no example %s", name)
			continue
		}
		var w any
		if err := json.Unmarshal([]byte(js), &w); err != nil {
			t.Fatal(err)
		}
		if got, want := mustMarshal(t, ex.Value.Value), mustMarshal(t, w); !bytes.Equal(got, want) {
			t.Errorf("example %s:\n%s\nwant\n%s", name, got, want)
		}
		if err := input.VisitJSON(w, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("example %s does not match EventInput: %v", name, err)
		}
	}
	// The ingest operations offer them.
	for _, p := range []string{"/events/"} {
		examples := doc.Paths.Value(p).Post.RequestBody.Value.Content.Get("application/json").Examples
		for name := range want {
			found := false
			for _, ex := range examples {
				found = found || ex.Ref == "#/components/examples/"+name
			}
			if !found {
				t.Errorf("POST %s does not offer the example %s", p, name)
			}
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEventSchemaAgreesWithRules checks the document's schema of an event
// as sent against the rules the worker applies, on events each of which
// breaks at most one rule that JSON Schema can express (it cannot say "a
// real date" or "not in the future", so none of these break those).
func TestEventSchemaAgreesWithRules(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	schema := doc.Components.Schemas["EventInput"].Value
	rules := eye.Rules{FutureTolerance: time.Minute}
	valid := `{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "category": "page interaction", "name": "pageview",
		"data": {"host": "www.example.com", "path": "/"}, "timestamp": "2021-01-01 09:15:27.243860"}`
	with := func(member, value string) string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(valid), &m); err != nil {
			t.Fatal(err)
		}
		if value == "" {
			delete(m, member)
		} else {
			m[member] = json.RawMessage(value)
		}
		return string(mustMarshal(t, m))
	}
	bodies := []string{
		valid,
		with("session_id", ""),
		with("session_id", `null`),
		with("session_id", `"E2085BE5-9137-4E4E-80B5-F1FFDDC25423"`),
		with("session_id", `"e2085be591374e4e80b5f1ffddc25423"`),
		with("session_id", `42`),
		with("session", `{"id": "e2085be5-9137-4e4e-80b5-f1ffddc25423"}`),
		with("session", `{"id": "nope"}`),
		with("session", `{}`),
		with("session", `"e2085be5-9137-4e4e-80b5-f1ffddc25423"`),
		with("category", ""),
		with("category", `""`),
		with("category", `"   "`),
		with("category", `7`),
		with("category", `"`+strings.Repeat("é", 50)+`"`),
		with("category", `"`+strings.Repeat("c", 51)+`"`),
		with("name", `"`+strings.Repeat("n", 150)+`"`),
		with("name", `"`+strings.Repeat("n", 151)+`"`),
		with("name", `null`),
		with("data", ""),
		with("data", `{}`),
		with("data", `[1]`),
		with("data", `"x"`),
		with("data", `{"n": 1.50}`),
		with("timestamp", ""),
		with("timestamp", `"2021-01-01T09:15:27Z"`),
		with("timestamp", `"2021-01-01 09:15:27+02:00"`),
		with("timestamp", `"2021-01-01t09:15:27.1z"`),
		with("timestamp", `"2021-01-01"`),
		with("timestamp", `"yesterday"`),
		with("timestamp", `1609492527`),
		with("event_id", `"order-42"`),
		with("event_id", `null`),
		with("event_id", `42`),
		with("event_id", `"`+strings.Repeat("e", 200)+`"`),
		with("event_id", `"`+strings.Repeat("e", 201)+`"`),
		with("sent_at", `"2021-01-01T09:15:28Z"`),
		with("sent_at", `null`),
		with("sent_at", `"soon"`),
		with("unknown", `{"ignored": true}`),
	}
	for _, body := range bodies {
		_, reasons := rules.ParseEvent(eye.Message{Kind: eye.KindEvent, ID: eye.NewID(), ApplicationID: "default",
			ReceivedAt: time.Now().UTC(), Payload: []byte(body)})
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020())
		if (err == nil) != (len(reasons) == 0) {
			t.Errorf("%s\n\tthe rules say %v; the schema says %v", body, reasons, err)
		}
	}
}

// TestRoutesDocumented compares the router's routes with the document's
// operations, both ways: an undocumented route, or a documented operation
// without a route, fails. The routes are those registered through the
// server's handle and public helpers (recorded as they are registered)
// and every pattern the package's source registers on the router directly
// (found in the source, such as GET /healthz).
func TestRoutesDocumented(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	recorded := api.New(api.Config{}).Patterns()
	inSource := sourcePatterns(t)
	for _, p := range recorded {
		if !slices.Contains(inSource, p) {
			t.Errorf("the pattern %q was registered but not found in the source: the scan of the source is broken", p)
		}
	}
	if !slices.Contains(inSource, "GET /healthz") || len(recorded) < 10 {
		t.Fatalf("found %d patterns registered and %v in the source: the scan is broken", len(recorded), inSource)
	}

	routes := map[string]bool{}
	for _, p := range slices.Concat(recorded, inSource) {
		routes[p] = true
	}
	// Paths that name a file, rather than a resource, have no trailing slash.
	files := []string{"/healthz", "/readyz", "/openapi.json", "/openapi.yaml", "/docs/{file}", "/metrics", "/status", "/events/stream",
		"/eye.js"}
	documented := map[string]bool{}
	for p, item := range doc.Paths.Map() {
		if !strings.HasSuffix(p, "/") && !slices.Contains(files, p) {
			t.Errorf("the document's path %s: document paths with their trailing slash, as docs/api.md does", p)
		}
		for method := range item.Operations() {
			documented[method+" "+strings.TrimSuffix(p, "/")] = true
		}
	}
	for _, r := range slices.Sorted(maps.Keys(routes)) {
		if !documented[r] {
			t.Errorf("the route %q is not in %s", r, documentFile)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(documented)) {
		if !routes[d] {
			t.Errorf("%s documents %q, which is no route", documentFile, d)
		}
	}
}

// sourcePatterns returns the route patterns in the package's source: the
// string literals "METHOD /path" given first to a call of Handle,
// HandleFunc, handle or public.
func sourcePatterns(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	pattern := regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /\S*$`)
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !slices.Contains([]string{"Handle", "HandleFunc", "handle", "public"}, sel.Sel.Name) {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err == nil && pattern.MatchString(s) && !slices.Contains(out, s) {
				out = append(out, s)
			}
			return true
		})
	}
	return out
}

// TestDocumentedScopes sends every documented operation a key of each
// scope: it must be refused (403) exactly when the scope the document
// names is not the key's. Public operations must answer without a key.
func TestDocumentedScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	doc := loadDocument(t)
	ctx := context.Background()
	secrets := map[string]string{}
	for _, scope := range []string{eye.ScopeIngest, eye.ScopeRead, eye.ScopeAdmin} {
		secret, key := api.NewSecret()
		key.Scopes = []string{scope}
		if err := e.store.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		secrets[scope] = secret
	}
	if err := e.keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	params := regexp.MustCompile(`\{[^}]+\}`)
	for p, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			target := params.ReplaceAllStringFunc(p, func(name string) string {
				if name == "{file}" {
					return "index.css"
				}
				return eye.NewID()
			})
			if len(*op.Security) == 0 {
				if res := e.do(method, target, "", nil); res.status == 401 || res.status == 403 {
					t.Errorf("%s %s is public in the document, but answers %d without a key", method, p, res.status)
				}
				continue
			}
			need := (*op.Security)[0]["bearerAuth"][0]
			for _, scope := range slices.Sorted(maps.Keys(secrets)) {
				res := e.do(method, target, secrets[scope], nil)
				allowed := eye.Allows([]string{scope}, need)
				if (res.status == http.StatusForbidden) == allowed {
					t.Errorf("%s %s needs %s in the document; with a key of scope %s it answers %d", method, p, need, scope, res.status)
				}
			}
		}
	}
}

// TestOpenAPIServed checks /openapi.yaml and /openapi.json: public, the
// embedded document as written, and the same document as JSON.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	file, err := os.ReadFile(documentFile)
	if err != nil {
		t.Fatal(err)
	}
	y := e.do("GET", "/openapi.yaml", "", nil)
	if y.status != 200 || y.header.Get("Content-Type") != "application/yaml" || !bytes.Equal(y.body, file) {
		t.Fatalf("GET /openapi.yaml: %d %s, %d bytes; want 200 application/yaml, %s as it is",
			y.status, y.header.Get("Content-Type"), len(y.body), documentFile)
	}
	j := e.do("GET", "/openapi.json/", "", nil)
	if j.status != 200 || j.header.Get("Content-Type") != "application/json" || !json.Valid(j.body) {
		t.Fatalf("GET /openapi.json: %d %s %.100s", j.status, j.header.Get("Content-Type"), j.body)
	}
	// Both read as the same document.
	var docs [][]byte
	for _, b := range [][]byte{y.body, j.body} {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.Validate(loader.Context); err != nil || !doc.IsOpenAPI31OrLater() {
			t.Fatalf("served document: %v, OpenAPI %s", err, doc.OpenAPI)
		}
		docs = append(docs, mustMarshal(t, doc))
	}
	if !bytes.Equal(docs[0], docs[1]) {
		t.Error("/openapi.json and /openapi.yaml differ")
	}
	if res := e.do("HEAD", "/openapi.json", "", nil); res.status != 200 || len(res.body) != 0 {
		t.Errorf("HEAD /openapi.json: %d, %d bytes", res.status, len(res.body))
	}
	res := e.do("POST", "/openapi.json", "", "{}")
	wantProblem(t, res, 405, "method_not_allowed")
	if allow := res.header.Get("Allow"); allow != "GET, HEAD" {
		t.Errorf("Allow: %q", allow)
	}
}

// TestConformanceCatches checks that the conformance check fails what it
// must: an undocumented status, member, header or path.
func TestConformanceCatches(t *testing.T) {
	t.Parallel()
	keys := api.NewKeyring(nil, nil, api.StaticKey(adminKey, "test", eye.ScopeAdmin))
	session := `{"id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "created_at": "2021-01-01T09:15:27.243860Z",
		"first_seen": null, "last_seen": null, "event_count": 0, "application_ids": []}`
	tests := []struct {
		name         string
		method, path string
		handler      http.HandlerFunc
		want         string // in the failure; "" for none
	}{
		{"documented", "GET", "/sessions/e2085be5-9137-4e4e-80b5-f1ffddc25423", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, session)
		}, ""},
		{"undocumented member", "GET", "/sessions/e2085be5-9137-4e4e-80b5-f1ffddc25423/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, strings.Replace(session, `"id"`, `"secret": 1, "id"`, 1))
		}, "secret"},
		{"undocumented status", "GET", "/sessions/", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
		}, "status is not supported"},
		{"wrong media type", "GET", "/healthz", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"status": "ok"}`)
		}, "Content-Type"},
		{"missing header", "POST", "/sessions/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, session)
		}, "Location"},
		{"undocumented path", "GET", "/secret/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{}`)
		}, "no path /secret"},
		{"wrong Allow", "DELETE", "/sessions/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "GET, HEAD")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			io.WriteString(w, `{"type": "about:blank", "title": "Method Not Allowed", "status": 405, "code": "method_not_allowed"}`)
		}, "Allow"},
		{"request without the scope", "GET", "/sessions/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"results": [], "next": null}`)
		}, "do not allow read"},
	}
	base := newChecker(t, nil, keys)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &conformance{next: tt.handler, keys: keys, router: base.router, problem: base.problem}
			req := httptest.NewRequest(tt.method, tt.path, nil)
			key := adminKey
			if strings.Contains(tt.name, "scope") {
				ingest := api.StaticKey("eye_ingest-only", "ingest", eye.ScopeIngest)
				c.keys = api.NewKeyring(nil, nil, ingest)
				key = "eye_ingest-only"
			}
			req.Header.Set("Authorization", "Bearer "+key)
			rec := &recorded{header: http.Header{}}
			c.ServeHTTP(rec, req)
			got := strings.Join(c.failures, "\n")
			switch {
			case tt.want == "" && got != "":
				t.Errorf("failed a conforming answer: %s", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("failures %q; want one about %q", got, tt.want)
			case tt.want != "" && rec.status != http.StatusInternalServerError:
				t.Errorf("a non-conforming answer went through as %d", rec.status)
			}
		})
	}
}
