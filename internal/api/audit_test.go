package api_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/theeye/eye"
)

// TestAdminActionsAudited reads the package's source: every route of
// scope admin that changes something (any method but GET) must reach
// s.audit, or the deletion jobs' Start (which records the job), through
// its handler or the methods of Server it calls. A new admin action
// without an audit record fails here.
func TestAdminActionsAudited(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]*ast.FuncDecl{} // the methods of *Server, by name
	var routes []*ast.CallExpr            // the calls s.handle(pattern, scope, handler)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
				continue
			}
			if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); ok {
				if id, ok := star.X.(*ast.Ident); ok && id.Name == "Server" {
					methods[fn.Name.Name] = fn
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && isServerCall(call, "handle") && len(call.Args) == 3 {
				routes = append(routes, call)
			}
			return true
		})
	}

	// audits reports whether a method of Server audits, itself or through
	// the methods it calls.
	memo := map[string]bool{}
	var audits func(name string, depth int) bool
	audits = func(name string, depth int) bool {
		if v, ok := memo[name]; ok {
			return v
		}
		fn := methods[name]
		if fn == nil || fn.Body == nil || depth > 4 {
			return false
		}
		memo[name] = false // a cycle audits nothing by itself
		found := false
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || found {
				return !found
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			switch {
			case !ok:
			case isServerCall(call, "audit"):
				found = true
			case sel.Sel.Name == "Start" && strings.HasSuffix(exprString(sel.X), ".Deleter"):
				found = true
			case isServerCall(call, sel.Sel.Name) && audits(sel.Sel.Name, depth+1):
				found = true
			}
			return !found
		})
		memo[name] = found
		return found
	}

	checked := 0
	for _, call := range routes {
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok {
			continue
		}
		pattern, _ := strconv.Unquote(lit.Value)
		if exprString(call.Args[1]) != "eye.ScopeAdmin" || strings.HasPrefix(pattern, "GET ") {
			continue
		}
		handler := handlerName(call.Args[2])
		if handler == "" {
			t.Errorf("%s: cannot tell its handler", pattern)
			continue
		}
		checked++
		if !audits(handler, 0) {
			t.Errorf("%s (s.%s) is an admin action that records nothing in the audit log", pattern, handler)
		}
	}
	if checked < 10 {
		t.Fatalf("only %d admin routes found: the test no longer reads the routes", checked)
	}
}

// isServerCall reports whether call is s.<name>(…).
func isServerCall(call *ast.CallExpr, name string) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == "s"
}

// handlerName returns the name of the method of Server a route's handler
// is, looking inside wrappers such as s.budgeted(n, s.putSchema).
func handlerName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.SelectorExpr:
		if id, ok := e.X.(*ast.Ident); ok && id.Name == "s" {
			return e.Sel.Name
		}
	case *ast.CallExpr:
		for i := len(e.Args) - 1; i >= 0; i-- {
			if name := handlerName(e.Args[i]); name != "" {
				return name
			}
		}
	}
	return ""
}

// exprString writes a selector expression such as s.cfg.Deleter.
func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	}
	return ""
}

// TestAuditFilters checks the filters of GET /audit/: an action or an
// actor that no entry can have is a 400 naming the parameter (a misspelt
// filter never silently finds nothing), and the document lists every
// action there is.
func TestAuditFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.admin("POST", "/applications/", map[string]any{"name": "shop"})
	for query, want := range map[string]int{
		"action=application.create": 1, "action=user.delete": 0, "actor=key:test": 1, "actor=cli": 0,
		"actor=retention": 0, "actor=user:" + eye.NewID(): 0,
	} {
		res := e.admin("GET", "/audit/?"+query, nil)
		if res.status != 200 || len(res.json(t)["results"].([]any)) != want {
			t.Errorf("GET /audit/?%s: %d %s; want %d entries", query, res.status, res.body, want)
		}
	}
	for query, param := range map[string]string{
		"action=application.created": "action", "action=APPLICATION.CREATE": "action", "actor=test": "actor",
		"actor=key:": "actor", "actor=admin:x": "actor", "timestamp__gte=yesterday": "timestamp__gte", "limit=0": "limit",
	} {
		p := wantProblem(t, e.admin("GET", "/audit/?"+query, nil), 400, "invalid_parameter")
		if p["param"] != param {
			t.Errorf("GET /audit/?%s: param %v, want %q", query, p["param"], param)
		}
	}

	doc := loadDocument(t)
	param := doc.Components.Parameters["AuditAction"]
	if param == nil || param.Value == nil || param.Value.Schema == nil {
		t.Fatal("the document has no parameter AuditAction")
	}
	var documented []string
	for _, v := range param.Value.Schema.Value.Enum {
		documented = append(documented, fmt.Sprint(v))
	}
	if !slices.Equal(documented, eye.AuditActions()) {
		t.Errorf("the document's actions %v\nthe code's             %v", documented, eye.AuditActions())
	}
}
