/* fixture: stands for the emitted C reproducer of F2 */
int main(void) { return 0; }
