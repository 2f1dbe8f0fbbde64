// Keeps digitpipe_test_support a real library until its first helper lands.
namespace digitpipe::test_support {}
