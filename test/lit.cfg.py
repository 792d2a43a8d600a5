# lit configuration for nnc. Substitutions: %nnc, %nn-opt, %examples; FileCheck,
# not and count come from LLVM's tools folder.
import os
import lit.formats

config.name = "nnc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".nn", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "unit", "lit.cfg.py", "check_metrics.py", "make_idx.py", "make_png.py", "kill_resume.py", "check_checkpoint_size.py", "readme_listing.py", "abi_normalize.py", "abi_classify.py", "nnc_abi.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.nnc_obj_root, "test")

config.environment["FILECHECK_OPTS"] = "--enable-var-scope --dump-input=fail"
path = os.path.pathsep.join([config.nnc_tools_dir, config.llvm_tools_dir,
                             config.environment.get("PATH", "")])
config.environment["PATH"] = path
config.substitutions.append(("%examples", os.path.join(config.nnc_src_root, "examples")))
config.substitutions.append(("%nnc_libdir", os.path.join(os.path.dirname(config.nnc_tools_dir), "lib")))
config.substitutions.append(("%nnc", os.path.join(config.nnc_tools_dir, "nnc")))
import sys
config.substitutions.append(("%python", sys.executable))
config.substitutions.append(("%nn-opt", os.path.join(config.nnc_tools_dir, "nn-opt")))
