;; Element-wise addition and subtraction of 32-bit words mod 2^32 with 128-bit SIMD (i32x4), the inner loop
;; of secure-aggregation masking: dst[i] = dst[i] ± src[i] over `bytes` bytes (a multiple of 64; callers
;; round up and ignore the tail). Compiled by scripts/gen-wasm.mjs into add-words-wasm.ts; a unit test
;; checks the embedded bytes are this file's and that the results match the scalar loop word for word.
(module
  (memory (export "memory") 4)
  (func (export "add") (param $dst i32) (param $src i32) (param $bytes i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (local.get $bytes)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store offset=0 (local.get $dst)
          (i32x4.add (v128.load offset=0 (local.get $dst)) (v128.load offset=0 (local.get $src))))
        (v128.store offset=16 (local.get $dst)
          (i32x4.add (v128.load offset=16 (local.get $dst)) (v128.load offset=16 (local.get $src))))
        (v128.store offset=32 (local.get $dst)
          (i32x4.add (v128.load offset=32 (local.get $dst)) (v128.load offset=32 (local.get $src))))
        (v128.store offset=48 (local.get $dst)
          (i32x4.add (v128.load offset=48 (local.get $dst)) (v128.load offset=48 (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
        (local.set $src (i32.add (local.get $src) (i32.const 64)))
        (br $next))))
  (func (export "sub") (param $dst i32) (param $src i32) (param $bytes i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (local.get $bytes)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store offset=0 (local.get $dst)
          (i32x4.sub (v128.load offset=0 (local.get $dst)) (v128.load offset=0 (local.get $src))))
        (v128.store offset=16 (local.get $dst)
          (i32x4.sub (v128.load offset=16 (local.get $dst)) (v128.load offset=16 (local.get $src))))
        (v128.store offset=32 (local.get $dst)
          (i32x4.sub (v128.load offset=32 (local.get $dst)) (v128.load offset=32 (local.get $src))))
        (v128.store offset=48 (local.get $dst)
          (i32x4.sub (v128.load offset=48 (local.get $dst)) (v128.load offset=48 (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
        (local.set $src (i32.add (local.get $src) (i32.const 64)))
        (br $next)))))
