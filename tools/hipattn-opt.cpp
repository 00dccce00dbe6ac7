//===- tools/hipattn-opt.cpp - Run the project's passes on textual MLIR ---===//
extern "C" int hipattn_opt_main(int argc, char **argv);
int main(int argc, char **argv) { return hipattn_opt_main(argc, argv); }
