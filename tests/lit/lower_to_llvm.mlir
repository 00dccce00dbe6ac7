// hipattn-opt's --hip-lower-to-llvm: scf, arith and math become LLVM.
// RUN: hipattn-opt --hip-lower-to-llvm %s | FileCheck %s

// CHECK-LABEL: llvm.func @sum_to
// CHECK-NOT: scf.for
// CHECK: llvm.icmp "slt"
// CHECK: llvm.add
// CHECK: llvm.return
llvm.func @sum_to(%n: i32) -> i32 {
  %c0 = arith.constant 0 : i32
  %c1 = arith.constant 1 : i32
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %c0) -> (i32) : i32 {
    %s = arith.addi %acc, %i : i32
    scf.yield %s : i32
  }
  llvm.return %r : i32
}

// CHECK-LABEL: llvm.func @exp2
// CHECK: llvm.intr.exp2
llvm.func @exp2(%x: f32) -> f32 {
  %y = math.exp2 %x : f32
  llvm.return %y : f32
}
