#!/usr/bin/env python3
# PTX of every config of the flash-attention, sparse-attention, mask-search and matmul tune spaces
# (as `hipattn kernels` lists them; D 64 and 128; sm_80 and sm_90a, the --divisible all variant)
# from two builds, compared file by file: the check, next to scripts/ptx_compare.sh, that a compiler
# change leaves code alone. Prints the configs that differ and a count.
#   python3 scripts/ptx_compare_configs.py OLD_BIN_DIR NEW_BIN_DIR   (e.g. /tmp/old/bin build/bin)
# (An old build without the mbarriers, tma, pingpong or refill_after_wait keys gets the configs
# without `mbarriers=0` / `tma=0` / `pingpong=0` / `refill_after_wait=1`;
# configs with `tma=1` are new code and not compared. IGNORE_LOC=1: the PTX's .loc lines, the kernels'
# source lines, are left out of the comparison, for a change that moved kernel source.)
import itertools, re, subprocess, sys, os, shutil, tempfile, concurrent.futures as cf
if len(sys.argv) != 3:
    sys.exit("usage: ptx_compare_configs.py OLD_BIN_DIR NEW_BIN_DIR")
old, new = sys.argv[1], sys.argv[2]
out = subprocess.run([new + "/hipattn", "kernels"], capture_output=True, text=True).stdout
spaces, cur = {}, None
for line in out.splitlines():
    m = re.match(r"^(\S+)\s+-\s", line)
    if m: cur = m.group(1); spaces[cur] = {}; continue
    m = re.match(r"^\s+(\S+)\s+\{(.*)\}$", line)
    if m and cur: spaces[cur][m.group(1)] = [v.strip() for v in m.group(2).split(",")]
jobs = []
for k in ["flash_attention", "hip_block_sparse_attention", "hip_mask_tree", "matmul"]:
    sp = spaces[k]; keys = list(sp)
    for vals in itertools.product(*[sp[x] for x in keys]):
        base = ",".join(f"{a}={b}" for a, b in zip(keys, vals))
        for d in (["64", "128"] if k != "matmul" else [None]):
            cfg = base + (f",HEAD_DIM={d}" if d else "")
            if "tma=1" in cfg: continue
            for t in ["sm_80", "sm_90a"]:
                jobs.append((k, cfg, t))
tmp = tempfile.mkdtemp()
def one(j):
    k, cfg, t = j
    res = []
    for b in (old, new):
        env = dict(os.environ, HIP_CACHE_DIR=tmp + "/c" + str(abs(hash(b))))
        oldCfg = cfg
        for key in ("mbarriers=0", "tma=0", "pingpong=0", "refill_after_wait=1"):
            oldCfg = oldCfg.replace("," + key, "").replace(key + ",", "")
        r = subprocess.run([b + "/hipattn", "compile", k, "--config", (oldCfg if b == old else cfg), "--target", t, "--emit", "ptx", "--divisible", "all"], capture_output=True, text=True, env=env)
        text = r.stdout + r.stderr
        if os.environ.get("IGNORE_LOC") == "1":
            text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith(".loc"))
        res.append(text)
    return j, res[0] == res[1], res[1][:300] if res[0] != res[1] else ""
d = 0
with cf.ThreadPoolExecutor(2) as ex:
    for j, same, why in ex.map(one, jobs):
        if not same: d += 1; print("differs:", *j, why.replace("\n", " ")[:200])
print(len(jobs), "files compared,", d, "differ")
shutil.rmtree(tmp, ignore_errors=True)
