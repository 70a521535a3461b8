#include <cstdio>
int main() { std::puts("dgrid"); return 0; }
