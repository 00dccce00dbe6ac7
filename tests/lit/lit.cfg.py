# lit configuration: FileCheck tests of each compilation stage.
import os
import lit.formats

config.name = "hipattn"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.test_exec_root = os.path.join(config.hip_bin_dir, "..", "tests", "lit")
config.environment["PATH"] = os.pathsep.join(
    [config.hip_bin_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
config.environment["HIP_CACHE_DIR"] = os.path.join(config.test_exec_root, "cache")
config.environment["HIP_BACKEND"] = "cpu"
config.excludes = ["lit.cfg.py", "lit.site.cfg.py.in"]
