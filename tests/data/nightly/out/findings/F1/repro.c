/* fixture: stands for the emitted C reproducer of F1 */
int main(void) { return 0; }
