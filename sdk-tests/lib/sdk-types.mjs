// Checks raw response JSON against the interfaces an SDK declares in its .d.ts files, read
// with the TypeScript compiler's parser: every property the SDK's type marks as required
// must be present, and every value present must have the declared type. `null` is
// accepted for an optional property (the SDK types are `?: string` where the API schema
// says nullable), never for a required one unless the type says `| null`.
import fs from 'node:fs';
import ts from 'typescript';

export function loadDeclarations(files) {
  const decls = new Map();
  for (const file of files) {
    const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node) || ts.isEnumDeclaration(node)) {
        if (!decls.has(node.name.text)) decls.set(node.name.text, node);
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
  }
  return decls;
}

function members(decls, iface) {
  // Inherited members first, so the interface's own declarations override them.
  const byName = new Map();
  for (const h of iface.heritageClauses ?? []) {
    for (const t of h.types) {
      const base = decls.get(t.expression.getText());
      if (base && ts.isInterfaceDeclaration(base)) {
        for (const [name, sig] of members(decls, base)) byName.set(name, sig);
      }
    }
  }
  for (const m of iface.members) {
    if (ts.isPropertySignature(m) && m.name) byName.set(m.name.getText().replace(/['"]/g, ''), m);
  }
  return [...byName.entries()];
}

function checkType(decls, typeNode, value, path, errors, depth = 0) {
  if (!typeNode || depth > 20) return true;
  const fail = (why) => { errors.push(`${path}: ${why}, got ${JSON.stringify(value)?.slice(0, 80)}`); return false; };
  switch (typeNode.kind) {
    case ts.SyntaxKind.StringKeyword: return typeof value === 'string' || fail('expected string');
    case ts.SyntaxKind.NumberKeyword: return typeof value === 'number' || fail('expected number');
    case ts.SyntaxKind.BooleanKeyword: return typeof value === 'boolean' || fail('expected boolean');
    case ts.SyntaxKind.AnyKeyword:
    case ts.SyntaxKind.UnknownKeyword:
    case ts.SyntaxKind.ObjectKeyword: return true;
    case ts.SyntaxKind.TypeQuery: return typeof value === 'string' || fail('expected a string constant');
    case ts.SyntaxKind.LiteralType: {
      const lit = typeNode.literal;
      if (lit.kind === ts.SyntaxKind.NullKeyword) return value === null || fail('expected null');
      if (ts.isStringLiteral(lit)) return value === lit.text || fail(`expected '${lit.text}'`);
      return true;
    }
    case ts.SyntaxKind.ArrayType: {
      if (!Array.isArray(value)) return fail('expected array');
      return value.every((v, i) => checkType(decls, typeNode.elementType, v, `${path}[${i}]`, errors, depth + 1));
    }
    case ts.SyntaxKind.UnionType: {
      for (const t of typeNode.types) {
        const trial = [];
        if (checkType(decls, t, value, path, trial, depth + 1)) return true;
      }
      return fail(`matches none of ${typeNode.getText()}`);
    }
    case ts.SyntaxKind.TypeLiteral: {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('expected object');
      const before = errors.length;
      checkMembers(decls, typeNode.members.filter((m) => ts.isPropertySignature(m)).map((m) => [m.name.getText().replace(/['"]/g, ''), m]), value, path, errors, depth + 1);
      return errors.length === before;
    }
    case ts.SyntaxKind.ParenthesizedType: return checkType(decls, typeNode.type, value, path, errors, depth + 1);
    case ts.SyntaxKind.TypeReference: {
      const name = typeNode.typeName.getText();
      if (name === 'Array' && typeNode.typeArguments?.length === 1) {
        if (!Array.isArray(value)) return fail('expected array');
        return value.every((v, i) => checkType(decls, typeNode.typeArguments[0], v, `${path}[${i}]`, errors, depth + 1));
      }
      if (name === 'Record') return (typeof value === 'object' && value !== null) || fail('expected object');
      const d = decls.get(name);
      if (!d) return true; // a type this check does not know: accept
      if (ts.isInterfaceDeclaration(d)) {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`expected ${name}`);
        return checkInterface(decls, name, value, path, errors, depth + 1);
      }
      if (ts.isTypeAliasDeclaration(d)) return checkType(decls, d.type, value, path, errors, depth + 1);
      if (ts.isEnumDeclaration(d)) {
        const values = d.members.map((m) => m.initializer && ts.isStringLiteral(m.initializer) ? m.initializer.text : null);
        return values.includes(value) || fail(`expected one of enum ${name}`);
      }
      return true;
    }
    default: return true;
  }
}

/** Errors of `value` against interface `name` (empty when it conforms). */
export function checkInterface(decls, name, value, path = name, errors = [], depth = 0) {
  const iface = decls.get(name);
  if (!iface || !ts.isInterfaceDeclaration(iface)) throw new Error(`no interface ${name}`);
  checkMembers(decls, members(decls, iface), value, path, errors, depth);
  return errors;
}

function checkMembers(decls, list, value, path, errors, depth) {
  for (const [prop, sig] of list) {
    const v = value[prop];
    const optional = Boolean(sig.questionToken);
    if (v === undefined) {
      if (!optional) errors.push(`${path}.${prop}: required by the SDK's type, missing`);
      continue;
    }
    if (v === null && optional) continue;
    checkType(decls, sig.type, v, `${path}.${prop}`, errors, depth);
  }
}
