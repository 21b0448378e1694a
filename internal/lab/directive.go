// The lab marks in the cores' source, and the stubs generated from them.
//
// A function belongs to lab N when its doc comment carries the directive
//
//	//kanna:lab N "the rule, as the paper states it" §section
//
// Stubs are cut from the real source with go/ast: the body between the function's braces is
// replaced, everything else (signature, doc comment, the rest of the file) is kept byte for byte,
// so a workspace always matches the code it was made from. An import that only the removed bodies
// used is dropped, so that the workspace compiles.

package lab

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// directive is the prefix of a lab mark.
const directive = "//kanna:lab "

// Func is one function a lab stubs.
type Func struct {
	Lab     int
	Name    string // with its receiver type, e.g. "(*Node).campaign"
	File    string // relative to the module root, with forward slashes
	Rule    string
	Section string
}

// parseMark reads a directive line: `//kanna:lab 1 "rule" §5.2`.
func parseMark(line string) (lab int, rule, section string, err error) {
	rest := strings.TrimPrefix(line, directive)
	num, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return 0, "", "", fmt.Errorf("%q: want %sN \"rule\" section", line, directive)
	}
	if lab, err = strconv.Atoi(num); err != nil {
		return 0, "", "", fmt.Errorf("%q: the lab number %q is not a number", line, num)
	}
	rest = strings.TrimSpace(rest)
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return 0, "", "", fmt.Errorf("%q: the rule must be a quoted string", line)
	}
	rule, _ = strconv.Unquote(q)
	section = strings.TrimSpace(rest[len(q):])
	if section == "" {
		return 0, "", "", fmt.Errorf("%q: name the paper section after the rule", line)
	}
	return lab, rule, section, nil
}

// funcName names a declaration the way the lab listing prints it.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	var b bytes.Buffer
	format.Node(&b, token.NewFileSet(), fd.Recv.List[0].Type)
	return "(" + b.String() + ")." + fd.Name.Name
}

// marks returns the lab marks of a parsed file's functions.
func marks(f *ast.File, rel string) ([]Func, []*ast.FuncDecl, error) {
	var out []Func
	var decls []*ast.FuncDecl
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Doc == nil || fd.Body == nil {
			continue
		}
		for _, c := range fd.Doc.List {
			if !strings.HasPrefix(c.Text, directive) {
				continue
			}
			lab, rule, section, err := parseMark(c.Text)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %s: %w", rel, fd.Name.Name, err)
			}
			out = append(out, Func{Lab: lab, Name: funcName(fd), File: rel, Rule: rule, Section: section})
			decls = append(decls, fd)
		}
	}
	return out, decls, nil
}

// sourceFiles lists the non-test Go files of one package folder.
func sourceFiles(root, dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			out = append(out, filepath.Join(dir, name))
		}
	}
	return out, nil
}

// Funcs returns every marked function of the module at root, by lab and then by file.
func Funcs(root string) ([]Func, error) {
	var all []Func
	for _, dir := range []string{"raft", "gossip"} {
		files, err := sourceFiles(root, dir)
		if err != nil {
			return nil, err
		}
		for _, rel := range files {
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, rel), nil, parser.ParseComments)
			if err != nil {
				return nil, err
			}
			fs, _, err := marks(f, filepath.ToSlash(rel))
			if err != nil {
				return nil, err
			}
			all = append(all, fs...)
		}
	}
	slices.SortStableFunc(all, func(a, b Func) int { return a.Lab - b.Lab })
	return all, nil
}

// stubBody is what replaces the body of a lab's function.
func stubBody(fn Func) string {
	return fmt.Sprintf("{\n\t// kanna lab %d: write this function.\n\t// Rule (%s): %s.\n\t// `kanna lab check %d` grades it; `kanna lab show %d` lists what else the lab asks for.\n\tpanic(%q)\n}",
		fn.Lab, fn.Section, fn.Rule, fn.Lab, fn.Lab,
		fmt.Sprintf("kanna lab %d: %s is not written yet: %s (%s)", fn.Lab, fn.Name, fn.Rule, fn.Section))
}

// StubFile returns src with the bodies of lab n's functions replaced by stubs, and the functions
// it stubbed. A file without any of them comes back unchanged, with no functions.
func StubFile(src []byte, rel string, n int) ([]byte, []Func, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, src, parser.ParseComments)
	if err != nil {
		return nil, nil, err
	}
	fs, decls, err := marks(f, rel)
	if err != nil {
		return nil, nil, err
	}
	type cut struct {
		from, to int
		text     string
	}
	var cuts []cut
	var stubbed []Func
	for i, fn := range fs {
		if fn.Lab != n {
			continue
		}
		body := decls[i].Body
		cuts = append(cuts, cut{fset.Position(body.Lbrace).Offset, fset.Position(body.Rbrace).Offset + 1, stubBody(fn)})
		stubbed = append(stubbed, fn)
	}
	if len(cuts) == 0 {
		return src, nil, nil
	}
	out := slices.Clone(src)
	for i := len(cuts) - 1; i >= 0; i-- {
		c := cuts[i]
		out = slices.Concat(out[:c.from], []byte(c.text), out[c.to:])
	}
	out, err = dropUnusedImports(out, rel)
	if err != nil {
		return nil, nil, err
	}
	out, err = format.Source(out)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: format the stubbed file: %w", rel, err)
	}
	return out, stubbed, nil
}

// dropUnusedImports removes the imports a file no longer refers to.
func dropUnusedImports(src []byte, rel string) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("%s: parse the stubbed file: %w", rel, err)
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	type span struct{ from, to int }
	var drop []span
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		for _, s := range gd.Specs {
			imp := s.(*ast.ImportSpec)
			path, _ := strconv.Unquote(imp.Path.Value)
			name := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				name = imp.Name.Name
			}
			if name == "_" || name == "." || used[name] {
				continue
			}
			if !gd.Lparen.IsValid() {
				// `import "x"` on its own: the whole declaration goes.
				drop = append(drop, span{fset.Position(gd.Pos()).Offset, fset.Position(gd.End()).Offset})
				continue
			}
			drop = append(drop, span{fset.Position(imp.Pos()).Offset, fset.Position(imp.End()).Offset})
		}
	}
	out := slices.Clone(src)
	for i := len(drop) - 1; i >= 0; i-- {
		out = slices.Concat(out[:drop[i].from], out[drop[i].to:])
	}
	return out, nil
}
