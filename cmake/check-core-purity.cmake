# Fails if liblxcore.a calls anything that ARCHITECTURE.md keeps out of the engine: a clock, a
# random source, the environment, files, sockets, threads, dynamic loading, or libm (floating
# point). The engine is a pure function of its commands; this is the link-level half of that
# promise (the other half is that src/core is compiled as ISO C11, without POSIX declarations).
#
# Usage: cmake -DNM=<nm> -DLIB=<liblxcore.a> -P check-core-purity.cmake
# The check reads the archive's undefined symbols with nm and matches them against a deny list,
# so calls from one core object to another and the sanitizers' own hooks are never reported.
cmake_minimum_required(VERSION 3.25)

if(NOT NM OR NOT LIB)
    message(FATAL_ERROR "usage: cmake -DNM=<nm> -DLIB=<liblxcore.a> -P ${CMAKE_SCRIPT_MODE_FILE}")
endif()

execute_process(COMMAND ${NM} -u ${LIB} OUTPUT_VARIABLE out RESULT_VARIABLE rc
                ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} -u ${LIB} failed (${rc}): ${err}")
endif()

set(deny
    # time
    time clock clock_gettime clock_getres gettimeofday timespec_get localtime localtime_r
    gmtime gmtime_r mktime strftime ctime difftime nanosleep sleep usleep
    # randomness
    rand rand_r srand random srandom drand48 erand48 lrand48 nrand48 mrand48 jrand48 srand48
    getrandom getentropy arc4random arc4random_buf arc4random_uniform
    # environment and process
    getenv secure_getenv setenv putenv system fork vfork execve execv execvp popen getpid
    # files and I/O other than diagnostics
    fopen fopen64 freopen fdopen fread fwrite fseek ftell rewind tmpfile remove rename
    open open64 openat creat close read write pread pwrite pread64 pwrite64 lseek fsync
    fdatasync mmap mmap64 munmap mprotect madvise stat fstat lstat
    # network
    socket connect bind listen accept accept4 send sendto sendmsg recv recvfrom recvmsg
    poll select epoll_wait epoll_create1 getaddrinfo
    # threads and signals
    thrd_create thrd_join mtx_init mtx_lock cnd_wait cnd_signal call_once signal sigaction
    raise
    # dynamic loading
    dlopen dlsym
    # libm: the engine has no floating point
    sqrt pow exp exp2 log log2 log10 floor ceil round lround llround trunc fmod fabs
    sin cos tan atan atan2 rint lrint llrint nearbyint modf frexp ldexp)

set(bad "")
string(REPLACE "\n" ";" lines "${out}")
foreach(line IN LISTS lines)
    if(line MATCHES "^[ \t]*U[ \t]+([^ \t@]+)")
        set(sym "${CMAKE_MATCH_1}")
        # Strip the float/long double suffixes of libm functions (sqrtf, floorl, ...).
        string(REGEX REPLACE "^(sqrt|pow|exp|exp2|log|log2|log10|floor|ceil|round|lround|llround|trunc|fmod|fabs|sin|cos|tan|atan|atan2|rint|lrint|llrint|nearbyint|modf|frexp|ldexp)[fl]$"
               "\\1" base "${sym}")
        if(base IN_LIST deny OR sym MATCHES "^(pthread_|sem_|__pthread|epoll_|inotify_|timer_|shm_)")
            list(APPEND bad ${sym})
        endif()
    endif()
endforeach()

if(bad)
    list(REMOVE_DUPLICATES bad)
    list(JOIN bad ", " bad_text)
    message(FATAL_ERROR "src/core must use nothing but the C library (no clock, randomness, "
                        "environment, files, network, threads or libm), but ${LIB} calls: "
                        "${bad_text}")
endif()
message(STATUS "core purity: ok (${LIB})")
