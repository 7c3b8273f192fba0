# Rewrites src/transforms/index.ts from the rule files (used when merging branches that add rules).
import os, re
d = 'src/transforms'
ids = sorted(f[:-3] for f in os.listdir(d) if f.endswith('.ts') and f not in ('index.ts', 'types.ts') and not f.endswith('.test.ts'))
camel = lambda s: re.sub(r'-(\w)', lambda m: m.group(1).upper(), s)
out = ["/** The registry: one line per rule. Order is the order `otpfix rules` lists them. */",
       "import type { AnyTransform } from '../core/types.js';"]
out += [f"import {camel(i)} from './{i}.js';" for i in ids]
out += ["", "export const transforms: AnyTransform[] = ["] + [f"  {camel(i)}," for i in ids] + ["];", "",
        "export function transformById(id: string): AnyTransform | undefined {",
        "  return transforms.find((t) => t.id === id);", "}", ""]
open(os.path.join(d, 'index.ts'), 'w').write('\n'.join(out))
